from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from customers.authentication import locked_message


class StaffLoginForm(AdminAuthenticationForm):
    """The admin's login form, saying until when a login is locked (whatever the password typed)."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            until = getattr(self.request, "staff_locked_until", None)
            if until is not None:
                raise ValidationError(locked_message(until), code="locked") from None
            raise
