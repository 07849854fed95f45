from django.contrib import admin
from django.urls import include, path

from helpdesk import views

handler500 = "helpdesk.views.server_error"
handler403 = "helpdesk.views.permission_denied"
handler404 = "helpdesk.views.page_not_found"

urlpatterns = [
    path("health/", views.health, name="health"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("helpdesk.api.urls")),
    path("scim/v2/", include("helpdesk.scim.urls")),
    path("sso/", include("helpdesk.sso.urls")),
    path("", include("helpdesk.portal.urls")),
]
