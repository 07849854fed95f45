"""SCIM clients in the admin: made through the service (the token shown this once), changed (companies,
rate, active) through it; never deleted (deactivated), so the history keeps who provisioned whom."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from backends.registry import sources
from helpdesk.admin.customers import NeverDeletedAdmin, WrittenByServiceAdmin
from helpdesk.admin.history import HistoryOfObject
from provisioning.clients import create_scim_client, update_scim_client
from provisioning.models import ScimClient


class ScimClientForm(forms.ModelForm):
    companies = forms.CharField(
        label=_("companies"),
        help_text=_("Customer IDs, separated by commas; its users are made in the first."),
    )
    source = forms.ChoiceField(label=_("source"), choices=())

    class Meta:
        model = ScimClient
        fields = ["name", "source", "companies", "rate", "is_active"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        writable = [
            alias for alias in sources.aliases
            if not sources[alias].read_only and getattr(sources[alias], "reads_own_table", False)
        ]  # fmt: skip
        if "source" in self.fields:  # a client's source is chosen once
            self.fields["source"].choices = [(alias, alias) for alias in writable]
        if self.instance.pk:
            self.initial["companies"] = ", ".join(self.instance.companies)

    def clean_companies(self) -> list[str]:
        return [part.strip() for part in self.cleaned_data["companies"].split(",") if part.strip()]


@admin.register(ScimClient)
class ScimClientAdmin(HistoryOfObject, WrittenByServiceAdmin, NeverDeletedAdmin):
    history_object_type, history_key = "scim_client", "name"
    form = ScimClientForm
    list_display = ["name", "source", "companies_shown", "token_hint", "rate", "is_active", "last_used_at"]
    list_filter = ["is_active", "source"]
    search_fields = ["name"]

    @admin.display(description=_("companies"))
    def companies_shown(self, obj: ScimClient) -> str:
        return ", ".join(obj.companies)

    def get_readonly_fields(self, request, obj=None):
        fixed = ["token_hint", "created_at", "last_used_at"]
        return [*fixed, "name", "source"] if obj is not None else fixed

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "source", "companies", "rate"]
        return [
            "name",
            "source",
            "companies",
            "rate",
            "is_active",
            "token_hint",
            "created_at",
            "last_used_at",
        ]

    def write(self, request, form, change):
        data = form.cleaned_data
        if change:
            changes = {k: data[k] for k in ("companies", "rate", "is_active") if k in form.changed_data}
            return update_scim_client(name=form.instance.name, changes=changes, acting_user=request.user)
        client, token = create_scim_client(
            name=data["name"], source=data["source"], companies=data["companies"],
            rate=data.get("rate") or "", acting_user=request.user,
        )  # fmt: skip
        messages.warning(request, _(
            "The token of %(name)s, shown this once (give it to the identity provider as its bearer token): "
            "%(token)s") % {"name": client.name, "token": token})  # fmt: skip
        return client
