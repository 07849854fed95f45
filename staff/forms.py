from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from staff.authentication import LOCKED


class StaffLoginForm(AdminAuthenticationForm):
    """The admin's login form, saying when a login is locked (whatever the password typed)."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            if getattr(self.request, "staff_locked_until", None) is not None:
                raise ValidationError(LOCKED, code="locked") from None
            raise
