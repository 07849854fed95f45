"""Admin screens for customers, groups and services (customer users get their own screens, issue 5).

Customers and customer users are never deleted (R59): the delete action and permission are removed and
invalidation is offered instead.
"""

from django.contrib import admin, messages
from django.forms.models import construct_instance
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.errors import HelpdeskError
from customers.forms import add_service_errors
from customers.models import Customer, CustomerGroup, CustomerUser, Group, Service, Validity
from customers.selectors import customer_group_permissions, search_customer_users
from customers.services import (
    CUSTOMER_FIELDS,
    create_customer,
    invalidate_customer,
    invalidate_customer_user,
    update_customer,
)
from helpdesk.admin.history import HistoryOfObject
from permissions.services import NAMED_FIELDS, create_group, create_service, update_group, update_service
from tickets.selectors import list_company_tickets


class WrittenByServiceAdmin(admin.ModelAdmin):
    """The row is written by its service while the form is validated, so a refusal of the service is an
    error on the field it names and the form keeps what was typed; Django's admin runs the form and the save
    in one transaction, which a later failure rolls back."""

    def write(self, request, form, change: bool):
        raise NotImplementedError

    def get_form(self, request, obj=None, change=False, **kwargs):
        model_form = super().get_form(request, obj, change=change, **kwargs)
        model_admin = self

        class ServiceForm(model_form):
            def _post_clean(self) -> None:
                """The service's rules instead of the model's own validation (one rule, every path)."""
                self.instance = construct_instance(self, self.instance, self._meta.fields, self._meta.exclude)
                if self.errors:
                    return
                try:
                    self.instance = model_admin.write(request, self, change)
                except HelpdeskError as exc:
                    add_service_errors(self, exc.field_errors or {None: [exc.message]})

        return ServiceForm

    def save_model(self, request, obj, form, change) -> None:
        """Written already, by `write` (see get_form)."""


class NeverDeletedAdmin(admin.ModelAdmin):
    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(Customer)
class CustomerAdmin(HistoryOfObject, WrittenByServiceAdmin, NeverDeletedAdmin):
    history_object_type, history_key = "customer", "customer_id"

    list_display = [
        "customer_id",
        "name",
        "city",
        "country",
        "validity",
        "changed_at",
        "groups_link",
        "cic_link",
    ]
    list_filter = ["validity"]
    search_fields = ["customer_id", "name", "city"]
    readonly_fields = ["created_at", "changed_at", "created_by", "changed_by"]
    actions = ["mark_invalid"]
    list_per_page = 1000  # the first 1000 are shown; the paginator counts the rest
    list_max_show_all = 1000

    @admin.display(description=_("groups"))
    def groups_link(self, obj: Customer) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:customer_groups", args=[obj.customer_id]), _("groups")
        )

    @admin.display(description=_("information center"))
    def cic_link(self, obj: Customer) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:information_center_customer", args=[obj.customer_id]),
            _("Customer Information Center"),
        )

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            response.context_data["hidden_count"] = max(
                0, changelist.result_count - len(changelist.result_list)
            )
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        customer = self.get_object(request, object_id)
        if customer is not None:
            extra_context = {
                **(extra_context or {}),
                "customer_users": search_customer_users(
                    customer_id_raw=customer.customer_id, valid_only=False, limit=100
                ),
                "customer_groups": customer_group_permissions(customer),
                "same_context": CustomerGroup.SAME,
                "company_tickets": list_company_tickets(customer.customer_id),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description=_("Mark selected customers invalid"))
    def mark_invalid(self, request, queryset):
        changed = 0
        for customer_id in queryset.values_list("customer_id", flat=True):
            try:
                invalidate_customer(customer_id=customer_id, acting_user=request.user)
                changed += 1
            except HelpdeskError as exc:
                self.message_user(request, exc.message, level=messages.ERROR)
        self.message_user(
            request,
            ngettext("%d customer marked invalid.", "%d customers marked invalid.", changed) % changed,
        )

    def write(self, request, form, change):
        """Through the customer service, as every path: a changed customer ID is followed by its
        customer users, relations and tickets (R121)."""
        values = {f: form.cleaned_data[f] for f in form.changed_data if f in CUSTOMER_FIELDS}
        if change:
            return update_customer(
                customer_id=form.initial["customer_id"], changes=values, acting_user=request.user
            )
        return create_customer(acting_user=request.user, **values)


@admin.register(CustomerUser)
class CustomerUserAdmin(NeverDeletedAdmin):
    """A read view of our own table; changes go through the sources' services."""

    list_display = ["login", "first_name", "last_name", "email", "customer_id", "validity"]
    list_filter = ["validity"]
    search_fields = ["login", "email", "last_name", "customer_id"]
    exclude = ["password"]
    actions = ["mark_invalid"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description=_("Mark selected customer users invalid"))
    def mark_invalid(self, request, queryset):
        changed = 0
        for login in queryset.values_list("login", flat=True):
            try:
                invalidate_customer_user(login=login, acting_user=request.user, validity=Validity.INVALID)
                changed += 1
            except HelpdeskError as exc:
                self.message_user(request, exc.message, level=messages.ERROR)
        self.message_user(
            request,
            ngettext("%d customer user marked invalid.", "%d customer users marked invalid.", changed)
            % changed,
        )


class NamedAdmin(WrittenByServiceAdmin, NeverDeletedAdmin):
    """Groups and services, saved through their services (checked case-blind, audited, answers forgotten);
    never deleted, only made invalid (as the reference does), and who made and changed them is shown."""

    create_named = update_named = None
    readonly_fields = ["created_at", "changed_at", "created_by", "changed_by"]

    def write(self, request, form, change):
        values = {f: form.cleaned_data[f] for f in form.changed_data if f in NAMED_FIELDS}
        if change:
            return type(self).update_named(
                name=form.initial["name"], changes=values, acting_user=request.user
            )
        return type(self).create_named(acting_user=request.user, **values)


@admin.register(Group)
class GroupAdmin(HistoryOfObject, NamedAdmin):
    history_object_type, history_key = "group", "name"

    create_named, update_named = staticmethod(create_group), staticmethod(update_group)
    list_display = ["name", "comments", "validity", "members_link"]

    @admin.display(description=_("customer users"))
    def members_link(self, obj: Group) -> str:
        url = reverse("admin:group_customer_users", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("customer users"))

    list_filter = ["validity"]
    search_fields = ["name"]


@admin.register(Service)
class ServiceAdmin(HistoryOfObject, NamedAdmin):
    history_object_type, history_key = "service", "name"

    create_named, update_named = staticmethod(create_service), staticmethod(update_service)
    list_display = ["name", "comments", "validity"]
    list_filter = ["validity"]
    search_fields = ["name"]
