from django.urls import path

from helpdesk.sso import views

app_name = "sso"
urlpatterns = [
    path("<str:name>/start/", views.start, name="start"),
    path("<str:name>/callback/", views.callback, name="callback"),
]
