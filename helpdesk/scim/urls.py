from django.urls import re_path

from helpdesk.scim import views

# SCIM clients write the paths without a final slash; one is accepted too.
app_name = "scim"
urlpatterns = [
    re_path(r"^ServiceProviderConfig/?$", views.service_provider_config, name="service_provider_config"),
    re_path(r"^ResourceTypes/?$", views.resource_types, name="resource_types"),
    re_path(r"^ResourceTypes/(?P<name>[^/]+)/?$", views.resource_types, name="resource_type"),
    re_path(r"^Schemas/?$", views.schemas, name="schemas"),
    re_path(r"^Schemas/(?P<name>[^/]+)/?$", views.schemas, name="schema"),
    re_path(r"^\.search/?$", views.search, name="search"),
    re_path(r"^(?P<kind>Users|Groups)/\.search/?$", views.search, name="search_of"),
    re_path(r"^Users/?$", views.users, name="users"),
    re_path(r"^Users/(?P<user_id>[^/]+)/?$", views.user, name="user"),
    re_path(r"^Groups/?$", views.groups, name="groups"),
    re_path(r"^Groups/(?P<group_id>[^/]+)/?$", views.group, name="group"),
    re_path(r"^(?P<rest>.*)$", views.unknown, name="unknown"),
]
