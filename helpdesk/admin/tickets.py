"""Tickets in the admin: agents browse and open them; the customer panel is the customers' side."""

from django import forms
from django.contrib import admin
from django.http import FileResponse, HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from backends.errors import SourceUnavailable
from customers.selectors import get_customer_user
from tickets.models import Article, Queue, Ticket
from tickets.selectors import get_attachment
from tickets.services import set_ticket_customer


class TicketForm(forms.ModelForm):
    class Meta:
        model = Ticket
        fields = ["title", "queue", "state", "priority", "customer_id", "customer_user_login", "service"]

    def clean_customer_user_login(self) -> str:
        """A ticket's customer user must exist in some source: a form error, not a 500 after the save."""
        login = (self.cleaned_data.get("customer_user_login") or "").strip()
        if login and "customer_user_login" in self.changed_data:
            try:
                record = get_customer_user(login, enrich=False)
            except SourceUnavailable as exc:
                raise forms.ValidationError(exc.message) from exc
            if record is None:
                raise forms.ValidationError(_("There is no customer user %(login)r.") % {"login": login})
            login = record.login
        return login


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ["name", "group", "validity"]
    list_filter = ["validity", "group"]
    search_fields = ["name"]


class ArticleInline(admin.TabularInline):
    model = Article
    extra = 1
    fields = ["sender", "author", "body", "visible_to_customer", "created_at", "files"]
    readonly_fields = ["created_at", "files"]

    @admin.display(description=_("files"))
    def files(self, article: Article) -> str:
        """The files attached to the article (the customer's), each a download for staff who may read it."""
        if article.pk is None:
            return ""
        return format_html_join(", ", '<a href="{}" download>{}</a>', (
            (reverse("admin:ticket_attachment", args=[f.pk]), f.filename) for f in article.attachments.all()
        ))  # fmt: skip


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    form = TicketForm
    list_display = [
        "number",
        "title",
        "queue",
        "state",
        "priority",
        "customer",
        "customer_user",
        "created_at",
    ]
    list_filter = ["state", "queue"]
    search_fields = ["=number", "title", "=customer_id", "=customer_user_login"]
    readonly_fields = ["number", "dynamic_fields", "created_at", "changed_at"]
    inlines = [ArticleInline]
    show_full_result_count = False

    @admin.display(description=_("customer ID"), ordering="customer_id")
    def customer(self, ticket: Ticket) -> str:
        return _link("admin:information_center_customer", ticket.customer_id)

    @admin.display(description=_("customer user"), ordering="customer_user_login")
    def customer_user(self, ticket: Ticket) -> str:
        return _link("admin:customer_user_change", ticket.customer_user_login)

    def save_model(self, request, obj, form, change):
        if not obj.number:
            obj.number = "pending"
        super().save_model(request, obj, form, change)
        if obj.number == "pending":
            obj.number = f"{obj.created_at:%Y%m%d}{obj.pk:08d}"
            obj.save(update_fields=["number"])
        if "customer_user_login" in form.changed_data and obj.customer_user_login:
            set_ticket_customer(
                ticket=obj, login=obj.customer_user_login, customer_id=obj.customer_id
            )  # R160


def _link(view: str, key: str) -> str:
    """`key` linked to its page (the Customer Information Center, a customer user's page), if any."""
    return format_html('<a href="{}">{}</a>', reverse(view, args=[key]), key) if key else ""


def attachment_download(request: HttpRequest, attachment_id: int) -> FileResponse:
    """A file attached to an article, as a download (never shown inline: nosniff)."""
    found = get_attachment(attachment_id)
    response = FileResponse(found.file.open("rb"), as_attachment=True, filename=found.filename,
                            content_type=found.content_type)  # fmt: skip
    response["X-Content-Type-Options"] = "nosniff"
    return response
