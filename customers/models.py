"""Customers (companies), customer users of our own table, and their relations.

Relations key customer users by login (R8), so users of LDAP and external sources take part exactly like
the users of our own table. Unlike the reference (W8) every relation is unique in the database.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Concat, Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import DeletionRefused
from core.validity import Validity


class NeverDeletedQuerySet(models.QuerySet):
    def delete(self):
        raise DeletionRefused.of(self.model)


class NeverDeleted(models.Model):
    """Customers and customer users are invalidated, never deleted (R59)."""

    objects = NeverDeletedQuerySet.as_manager()

    class Meta:
        abstract = True

    def delete(self, *args, **kwargs):
        raise DeletionRefused.of(type(self))


class Audited(models.Model):
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_column="create_time")
    changed_at = models.DateTimeField(_("changed"), auto_now=True, db_column="change_time")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_column="create_by",
        db_index=False,  # an audit note, never searched by: no index to keep up on every write
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_column="change_by",
        db_index=False,
    )

    class Meta:
        abstract = True


class Customer(NeverDeleted, Audited):
    """A company (R2). `customer_id` is the key other records and the sources refer to."""

    customer_id = models.CharField(_("customer ID"), max_length=150, unique=True)
    name = models.CharField(_("name"), max_length=191, unique=True)
    street = models.CharField(_("street"), max_length=200, blank=True)
    zip = models.CharField(_("ZIP"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=200, blank=True)
    country = models.CharField(_("country"), max_length=200, blank=True)
    url = models.CharField(_("URL"), max_length=200, blank=True)
    comments = models.CharField(_("comments"), max_length=250, blank=True)
    email_domains = models.CharField(
        _("e-mail domains"),
        max_length=1000,
        blank=True,
        default="",
        db_default="",  # rows written by SQL of their own (the Znuny migration) get none
        help_text=_(
            "Separated by spaces or commas: a person who signs up with an address in one of them joins this "
            "customer. A domain belongs to one customer."
        ),
    )  # stored lower-case, IDNA, one space between (customers.rules.normal_email_domains)
    validity = models.PositiveSmallIntegerField(
        _("validity"), choices=Validity.choices, default=Validity.VALID, db_column="valid_id"
    )

    class Meta:
        db_table = "customer_company"
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name"]
        indexes = [models.Index(Lower("name"), name="customer_company_lower_name")]
        # One customer per ID whatever its case: ticket access compares IDs case-blind (R118).
        constraints = [
            models.UniqueConstraint(
                Lower("customer_id"),
                name="customer_company_id_ci_unique",
                violation_error_message=_(
                    "A customer with this customer ID exists already (compared case-blind)."
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.customer_id})"


# The reference's names of a customer's attributes (R6, CustomerCompany*) and the fields holding them: the
# API, the importer and a customer user's record (R21) all name them so.
COMPANY_ATTRIBUTES = {
    "CustomerID": "customer_id", "CustomerCompanyName": "name", "CustomerCompanyStreet": "street",
    "CustomerCompanyZIP": "zip", "CustomerCompanyCity": "city", "CustomerCompanyCountry": "country",
    "CustomerCompanyURL": "url", "CustomerCompanyComment": "comments",
    "CustomerEmailDomains": "email_domains",  # ours: where sign-up puts a person (customers.signup)
}  # fmt: skip

SEARCH_KEY_SEPARATOR = "\x1f"  # ASCII unit separator: around each field of the search key
SEARCH_KEY_FIELDS = ("login", "first_name", "last_name", "customer_id")  # the shipped search fields (R43)


def search_key_expression() -> Concat:
    """`␟login␟first name␟last name␟customer id␟`, lower-cased: one value that a wildcard search over these
    fields compares once per row instead of four lower() calls, and that one trigram index covers (W1)."""
    parts: list = [models.Value(SEARCH_KEY_SEPARATOR)]
    for name in SEARCH_KEY_FIELDS:
        parts += [Lower(name), models.Value(SEARCH_KEY_SEPARATOR)]
    return Concat(*parts, output_field=models.TextField())


class CustomerUser(NeverDeleted, Audited):
    """A customer user of our own table (R1), read and written through the `DB` source and its Map.

    Column names follow the reference, because the Map names storage columns. `extra_attributes` holds
    Map attributes that have no column of their own, so an admin can add a field to the Map without a
    migration.
    """

    search_key_fields = SEARCH_KEY_FIELDS  # what `search_key` is built from (backends.sql reads these)
    search_key_separator = SEARCH_KEY_SEPARATOR
    # `search_key` with its accents dropped, generated beside it on PostgreSQL only (migration 0021: not a
    # model field, as SQLite and MariaDB have no `translate`); the screens' accent-blind search reads it.
    folded_search_key_column = "search_key_folded"
    # Each has a `lower(column) COLLATE "C"` index on PostgreSQL (migration 0011): a term `x*` reads its
    # first matches straight from them, whatever their number (backends.sql DBSource._prefix_search).
    prefix_indexed_fields = SEARCH_KEY_FIELDS
    # Kept up to date by triggers on PostgreSQL (migration 0012): exact counts per validity, read in O(1).
    tally_table = "customer_user_tally"

    # Unique case-insensitively (the constraint below), which makes it unique as typed as well.
    login = models.CharField(_("login"), max_length=191)
    email = models.CharField(_("email"), max_length=150)
    customer_id = models.CharField(_("customer ID"), max_length=150)
    password = models.CharField(_("password"), max_length=128, blank=True, db_column="pw")
    title = models.CharField(_("title or salutation"), max_length=50, blank=True)
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    phone = models.CharField(_("phone"), max_length=150, blank=True)
    fax = models.CharField(_("fax"), max_length=150, blank=True)
    mobile = models.CharField(_("mobile"), max_length=150, blank=True)
    street = models.CharField(_("street"), max_length=150, blank=True)
    zip = models.CharField(_("ZIP"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=200, blank=True)
    country = models.CharField(_("country"), max_length=200, blank=True)
    comments = models.CharField(_("comments"), max_length=250, blank=True)
    validity = models.PositiveSmallIntegerField(
        _("validity"), choices=Validity.choices, default=Validity.VALID, db_column="valid_id"
    )
    extra_attributes = models.JSONField(_("extra attributes"), default=dict, blank=True)
    search_key = models.GeneratedField(
        expression=search_key_expression(), output_field=models.TextField(), db_persist=True
    )

    class Meta:
        db_table = "customer_user"
        verbose_name = _("customer user")
        verbose_name_plural = _("customer users")
        ordering = ["login"]
        permissions = [  # what no model's add / change / view covers (helpdesk/access.py)
            ("set_customeruser_password", _("Can set a customer user's password")),
            ("change_customeruser_relations", _("Can change a customer user's customers and services")),
            ("view_sources", _("Can view the customer-user sources and their status")),
            ("anonymise_customeruser", _("Can anonymise a customer user (erase their personal data)")),
            ("export_customeruser", _("Can export all data held about a customer user")),
            ("view_panel_as_customeruser", _("Can see the customer panel as a customer user, read-only")),
        ]
        constraints = [
            # Lookups are case-insensitive (R55); `JDOE` and `jdoe` must never both exist.
            models.UniqueConstraint(Lower("login"), name="customer_user_login_ci_unique"),
        ]
        indexes = [
            models.Index(Lower("email"), name="customer_user_lower_email"),
            models.Index(Lower("customer_id"), name="customer_user_lower_cid"),
        ]

    def __str__(self) -> str:
        return self.login


class Group(Audited):
    """A group that customer users and customers get permissions on (reference: `groups`, R9)."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    comments = models.CharField(_("comments"), max_length=250, blank=True)
    validity = models.PositiveSmallIntegerField(
        _("validity"), choices=Validity.choices, default=Validity.VALID, db_column="valid_id"
    )

    class Meta:
        verbose_name = _("group")
        verbose_name_plural = _("groups")
        ordering = ["name"]
        permissions = [
            (
                "change_group_permissions",
                _("Can change the group permissions of customer users and customers"),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="group_name_ci_unique",
                violation_error_message=_("A group with this name exists already (compared case-blind)."),
            )
        ]

    def __str__(self) -> str:
        return self.name


class Service(Audited):
    """A service; `Parent::Child` names nest it under its parent."""

    SEPARATOR = "::"

    name = models.CharField(_("name"), max_length=200, unique=True)
    comments = models.CharField(_("comments"), max_length=250, blank=True)
    validity = models.PositiveSmallIntegerField(
        _("validity"), choices=Validity.choices, default=Validity.VALID, db_column="valid_id"
    )

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="service_name_ci_unique",
                violation_error_message=_("A service with this name exists already (compared case-blind)."),
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def parent_name(self) -> str | None:
        head, sep, _tail = self.name.rpartition(self.SEPARATOR)
        return head if sep else None


class CustomerUserSecondFactor(models.Model):
    """A customer user's TOTP second factor (RFC 6238): the shared secret, when it was confirmed, the last
    time step a code was accepted for (no code works twice), and the one-time recovery codes, hashed."""

    login = models.CharField(_("login"), max_length=191, unique=True)
    secret = models.CharField(max_length=64)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(default=0)
    recovery_codes = models.JSONField(default=list)

    class Meta:
        db_table = "customer_second_factor"
        verbose_name = _("customer user second factor")

    def __str__(self) -> str:
        return f"{self.login}: {'on' if self.confirmed_at else 'being set up'}"


class CustomerUserPreference(models.Model):
    """A key/value preference of a customer user (R3, R135), unique per login and key (W8)."""

    login = models.CharField(_("login"), max_length=191)
    key = models.CharField(_("key"), max_length=150)
    value = models.CharField(_("value"), max_length=250, blank=True)

    class Meta:
        db_table = "customer_preferences"
        verbose_name = _("customer user preference")
        constraints = [models.UniqueConstraint(fields=["login", "key"], name="customer_pref_unique")]
        indexes = [models.Index(fields=["key"], name="customer_pref_key")]

    def __str__(self) -> str:
        return f"{self.login}: {self.key}"


class CustomerUserCustomer(models.Model):
    """An additional customer of a customer user, beyond the primary one (R4)."""

    login = models.CharField(_("login"), max_length=191)
    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        to_field="customer_id",
        db_column="customer_id",
        related_name="customer_user_links",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_column="create_time")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_column="create_by",
        db_index=False,
    )

    class Meta:
        db_table = "customer_user_customer"
        verbose_name = _("customer user ↔ customer")
        constraints = [
            models.UniqueConstraint(fields=["login", "customer"], name="customer_user_customer_unique")
        ]

    def __str__(self) -> str:
        return f"{self.login} → {self.customer_id}"


class CustomerUserGroup(models.Model):
    """One permission type of a customer user on a group (R5); presence means granted."""

    login = models.CharField(_("login"), max_length=191)
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="customer_user_permissions")
    permission = models.CharField(_("permission"), max_length=20, db_column="permission_key")
    created_at = models.DateTimeField(auto_now_add=True, db_column="create_time")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_column="create_by",
        db_index=False,
    )

    class Meta:
        db_table = "group_customer_user"
        verbose_name = _("customer user group permission")
        constraints = [
            models.UniqueConstraint(
                fields=["login", "group", "permission"], name="group_customer_user_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.login} {self.permission} {self.group_id}"


class CustomerGroup(models.Model):
    """One permission type of a customer on a group in a context (R6)."""

    SAME = "Ticket::CustomerID::Same"
    OTHER = "Ticket::CustomerID::Other"

    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        to_field="customer_id",
        db_column="customer_id",
        related_name="group_permissions",
    )
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="customer_permissions")
    permission = models.CharField(_("permission"), max_length=20, db_column="permission_key")
    context = models.CharField(_("context"), max_length=100, default=SAME, db_column="permission_context")
    created_at = models.DateTimeField(auto_now_add=True, db_column="create_time")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_column="create_by",
        db_index=False,
    )

    class Meta:
        db_table = "group_customer"
        verbose_name = _("customer group permission")
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "group", "permission", "context"], name="group_customer_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.permission} {self.group_id} ({self.context})"


class CustomerUserService(models.Model):
    """A service a customer user may use (R7)."""

    login = models.CharField(_("login"), max_length=191)
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="customer_user_links")
    created_at = models.DateTimeField(auto_now_add=True, db_column="create_time")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_column="create_by",
        db_index=False,
    )

    class Meta:
        db_table = "service_customer_user"
        verbose_name = _("customer user service")
        constraints = [
            models.UniqueConstraint(fields=["login", "service"], name="service_customer_user_unique")
        ]

    def __str__(self) -> str:
        return f"{self.login} → {self.service_id}"


class DefaultService(models.Model):
    """A service every customer user may use (the reference's `<DEFAULT>` pseudo-login, R7/R131)."""

    service = models.OneToOneField(Service, on_delete=models.CASCADE, related_name="default_link")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("default service")

    def __str__(self) -> str:
        return str(self.service_id)


class LoginFailureQuerySet(models.QuerySet):
    def locked(self) -> LoginFailureQuerySet:
        """The locks that hold now, the longest first."""
        return self.filter(locked_until__gt=timezone.now()).order_by("-locked_until")


class LoginFailure(models.Model):
    """Failed logins of one login (or client address) in one scope — a source (R86), `staff`, `staff
    address`, `second factor` — and the lock that too many of them set."""

    login = models.CharField(_("login or client address"), max_length=191)  # casefolded
    source = models.CharField(_("scope"), max_length=20)
    count = models.PositiveIntegerField(_("failed logins"), default=0)
    last_failed_at = models.DateTimeField(_("last failed at"))
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)

    objects = LoginFailureQuerySet.as_manager()

    class Meta:
        db_table = "customer_user_login_failure"
        verbose_name = _("login lock")
        verbose_name_plural = _("login locks")
        constraints = [models.UniqueConstraint(fields=["login", "source"], name="login_failure_unique")]

    def __str__(self) -> str:
        return f"{self.login}@{self.source}: {self.count}"


class MigratedRow(models.Model):
    """What the last Znuny migration read of one reference row: its kind, its key as compared (folded) and a
    fingerprint of its values. A re-run writes only rows whose reference values changed since, so what
    happened here in between (a hash upgraded at login, a preference set in the panel) stays."""

    kind = models.CharField(max_length=20)
    key = models.TextField()
    fingerprint = models.CharField(max_length=32)

    class Meta:
        db_table = "znuny_migrated_row"
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="znuny_migrated_row_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


class UsedSignupLink(models.Model):
    """A sign-up link that made an account: each works once, whatever happens to that account later
    (anonymised, renamed), until it expires. Kept by the digest of the link, never the link itself."""

    digest = models.CharField(max_length=64, unique=True)
    used_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "customer_signup_link_used"

    def __str__(self) -> str:
        return self.digest


class ImportRun(models.Model):
    """An import of a file queued from the admin and run as a job by the import commands' engine: where it
    stands (rows read of the file's rows), what it wrote, and where its report of refused rows is."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    kind = models.CharField(max_length=20)  # customer_users | customers
    source = models.CharField(max_length=64, blank=True)  # for customer users: the source written to
    name = models.CharField(max_length=255)  # the uploaded file's name
    path = models.CharField(max_length=1000)  # where the file is kept while it is imported
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)  # data rows in the file
    read = models.PositiveIntegerField(default=0)
    written = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    queued = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False
    )

    class Meta:
        db_table = "customer_import_run"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def percent(self) -> int:
        return (
            100
            if self.status == self.Status.SUCCEEDED
            else int(100 * self.read / self.total)
            if self.total
            else 0
        )
