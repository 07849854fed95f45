from django.urls import path

from helpdesk.sso import views

app_name = "sso"
urlpatterns = [
    path("<str:name>/start/", views.start, name="start"),
    path("<str:name>/callback/", views.callback, name="callback"),
    path("<str:name>/acs/", views.acs, name="acs"),
    path("<str:name>/metadata/", views.metadata, name="metadata"),
    path("<str:name>/sls/", views.sls, name="sls"),
]
