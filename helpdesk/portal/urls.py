from django.urls import path

from helpdesk.portal import views as portal

app_name = "portal"

urlpatterns = [
    path("", portal.login, name="login"),
    path("logout/", portal.logout, name="logout"),
    path("view-as/end/", portal.view_as_end, name="view_as_end"),
    path("login/code/", portal.login_code, name="login_code"),
    path("preferences/two-factor/", portal.two_factor_setup, name="two_factor"),
    path("password-reset/", portal.password_reset, name="password_reset"),
    path("signup/", portal.signup, name="signup"),
    path("signup/<str:token>/", portal.signup_confirm, name="signup_confirm"),
    path(
        "password-reset/<str:uid>/<str:token>/", portal.password_reset_confirm, name="password_reset_confirm"
    ),
    path("tickets/", portal.tickets, name="tickets"),
    path("tickets/new/", portal.new_ticket, name="new_ticket"),
    path("tickets/<str:number>/", portal.ticket, name="ticket"),
    path(
        "tickets/<str:number>/files/<str:attachment_id>/", portal.ticket_attachment, name="ticket_attachment"
    ),
    path("preferences/", portal.preferences, name="preferences"),
]
