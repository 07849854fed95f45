from django.urls import path

from helpdesk.portal import views as portal

app_name = "portal"

urlpatterns = [
    path("", portal.login, name="login"),
    path("logout/", portal.logout, name="logout"),
    path("tickets/", portal.tickets, name="tickets"),
    path("tickets/new/", portal.new_ticket, name="new_ticket"),
    path("tickets/<str:number>/", portal.ticket, name="ticket"),
    path("preferences/", portal.preferences, name="preferences"),
]
