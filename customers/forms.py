"""Forms of the admin screens. The customer-user form is built from a source's Map (R12, R140–R144)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from backends.base import CustomerUserRecord
from backends.config import SourceConfig
from backends.values import label_in_language
from customers.models import Validity


class CustomerUserForm(forms.Form):
    """One field per Map row: its label, required mark, selections, and read-only rows on edit.

    The form only shapes input; the source validates it (lengths, e-mail, customer, uniqueness) and its
    errors are put back at the fields by `add_service_errors`.
    """

    def __init__(self, config: SourceConfig, *args: Any, record: CustomerUserRecord | None = None,
                 read_only: bool = False, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.config = config
        self.record = record
        for row in config.map_rows:
            if row.is_dynamic_field or (row.is_password and record is not None):
                continue
            initial = record.get(row.attribute) if record is not None else None
            help_text = ""
            if row.is_password:
                field: forms.Field = forms.CharField(
                    widget=forms.PasswordInput(render_value=True), strip=False
                )
                help_text = _("Leave empty to generate a password; it is shown once after saving.")
            elif row.attribute == "ValidID":
                field = forms.TypedChoiceField(choices=Validity.choices, coerce=int)
                initial = initial or Validity.VALID
            elif row.attribute in config.selections:
                field = forms.ChoiceField(choices=[("", "—"), *config.selections[row.attribute].items()])
            else:
                field = forms.CharField(strip=True)
            field.label = label_in_language(row.label)  # the shipped labels are in the catalogue
            field.required = row.required and not row.is_password
            field.initial = initial
            field.help_text = help_text
            if read_only or (record is not None and row.read_only):
                field.disabled = True
            if row.http_link and record is not None:
                field.widget.attrs["data-http-link"] = row.http_link.replace(
                    "[% Data.UserLogin %]", record.login
                )
            self.fields[row.attribute] = field

    def add_service_errors(self, field_errors: dict[str, list[str]]) -> None:
        add_service_errors(self, field_errors)

    def changes(self) -> dict[str, Any]:
        return {name: value for name, value in self.cleaned_data.items() if not self.fields[name].disabled}


def add_service_errors(form: forms.BaseForm, field_errors: Mapping[str | None, list[str]]) -> None:
    """A service's refusal on the fields it names (the form's own errors otherwise), what was typed kept."""
    for name, messages in field_errors.items():
        for message in messages:
            form.add_error(name if name in form.fields else None, message)
