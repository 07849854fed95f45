"""The one error base of the project: a stable code, an HTTP status, a message, and the fields at fault."""

from __future__ import annotations

from django.utils.translation import gettext_lazy


class HelpdeskError(Exception):
    code = "error"
    status = 400
    template = gettext_lazy("{detail}")

    def __init__(self, field_errors: dict[str, list[str]] | None = None, **fields: object) -> None:
        self.fields = fields
        self.field_errors = dict(field_errors or {})
        self.message = str(self.template).format(**fields)
        super().__init__(self.message)

    def as_dict(self) -> dict[str, object]:
        return {"error": self.code, "message": self.message, "fields": self.field_errors}


class NotFound(HelpdeskError):
    code = "not_found"
    status = 404


class ValidationFailed(HelpdeskError):
    """Bad input: `field_errors` names every field, its value and the rule it breaks."""

    code = "validation"
    status = 400
    template = gettext_lazy("{detail}")

    @classmethod
    def on(cls, field: str, problem: str) -> ValidationFailed:
        """One field refused: `problem` names the value and the rule it breaks."""
        return cls({field: [problem]}, detail=f"{field}: {problem}")


class DeletionRefused(HelpdeskError):
    code = "deletion_refused"
    status = 405
    template = gettext_lazy(
        "{kind} are never deleted; set their validity to invalid or invalid-temporarily instead."
    )

    @classmethod
    def of(cls, model: type) -> DeletionRefused:
        """The refusal to delete rows of `model`, named in the reader's language."""
        return cls(kind=model._meta.verbose_name_plural.capitalize())


class TooManyRequests(HelpdeskError):
    """A client over one of its rates (core.rates): refused before any work, told when to come back."""

    code = "throttled"
    status = 429
    template = gettext_lazy("Too many requests from your address: try again in {minutes} minutes.")

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(int(retry_after + 0.999), 1)
        super().__init__(minutes=max((self.retry_after + 59) // 60, 1))
