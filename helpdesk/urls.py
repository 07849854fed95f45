from django.contrib import admin
from django.urls import include, path

from helpdesk import views

handler500 = "helpdesk.views.server_error"

urlpatterns = [
    path("health/", views.health, name="health"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("helpdesk.api.urls")),
    path("", include("helpdesk.portal.urls")),
]
