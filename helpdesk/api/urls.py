from django.contrib.admin.views.decorators import staff_member_required
from django.urls import path

from helpdesk.api import views

app_name = "api"

user = "customer-users/<str:login>"
urlpatterns = [
    path("schema/", views.Schema.as_view(), name="schema"),
    path(  # a browser without a staff session is sent to the admin's login
        "docs/", staff_member_required(views.Docs.as_view(url_name="api:schema")), name="docs"
    ),
    path("customers/", views.CustomerList.as_view(), name="customer-list"),
    path("customers/<str:customer_id>/", views.CustomerDetail.as_view(), name="customer-detail"),
    path("customers/<str:customer_id>/groups/", views.CustomerGroups.as_view(), name="customer-groups"),
    path("customers/<str:customer_id>/history/", views.CustomerHistory.as_view(), name="customer-history"),
    path("customer-users/", views.CustomerUserList.as_view(), name="customer-user-list"),
    path(f"{user}/", views.CustomerUserDetail.as_view(), name="customer-user-detail"),
    path(f"{user}/password", views.CustomerUserPassword.as_view(), name="customer-user-password"),
    path(
        f"{user}/password/generate",
        views.CustomerUserPasswordGenerate.as_view(),
        name="customer-user-password-generate",
    ),
    path(f"{user}/customers/", views.CustomerUserCustomers.as_view(), name="customer-user-customers"),
    path(f"{user}/groups/", views.CustomerUserGroups.as_view(), name="customer-user-groups"),
    path(f"{user}/permissions/", views.CustomerUserPermissions.as_view(), name="customer-user-permissions"),
    path(f"{user}/customer-ids/", views.CustomerUserCustomerIds.as_view(), name="customer-user-customer-ids"),
    path(f"{user}/services/", views.CustomerUserServices.as_view(), name="customer-user-services"),
    path(f"{user}/history/", views.CustomerUserHistory.as_view(), name="customer-user-history"),
    path(f"{user}/export/", views.CustomerUserExport.as_view(), name="customer-user-export"),
    path(f"{user}/anonymise/", views.CustomerUserAnonymise.as_view(), name="customer-user-anonymise"),
    path("groups/", views.GroupList.as_view(), name="group-list"),
    path("groups/<str:name>/", views.GroupDetail.as_view(), name="group-detail"),
    path("services/", views.ServiceList.as_view(), name="service-list"),
    path("services/<str:name>/", views.ServiceDetail.as_view(), name="service-detail"),
    path("settings/default-groups/", views.DefaultGroups.as_view(), name="default-groups"),
    path("settings/default-services/", views.DefaultServices.as_view(), name="default-services"),
    path("sources/", views.Sources.as_view(), name="sources"),
    path("sources/<str:alias>/sync-runs/", views.SourceSyncRuns.as_view(), name="source-sync-runs"),
    path("sources/<str:alias>/preview/", views.SourceRulesPreview.as_view(), name="source-preview"),
    path("scim-clients/", views.ScimClientList.as_view(), name="scim-client-list"),
    path("scim-clients/<str:name>/", views.ScimClientDetail.as_view(), name="scim-client-detail"),
    path("audit/", views.AuditLog.as_view(), name="audit"),
]
