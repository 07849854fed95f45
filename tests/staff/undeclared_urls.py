"""The project's routes plus a page whose view declares nothing (tests/staff/test_routes_declare.py)."""

from django.http import HttpResponse
from django.urls import path

from helpdesk.urls import urlpatterns as project


def undeclared(request):
    return HttpResponse("served")


urlpatterns = [path("undeclared/", undeclared), *project]
