"""API shapes. Customers use the reference's company names; customer users the Map's attribute names."""

from __future__ import annotations

from rest_framework import serializers

from customers.models import COMPANY_ATTRIBUTES, Customer, Group, Service, Validity

CUSTOMER_FIELDS = {**COMPANY_ATTRIBUTES, "ValidID": "validity"}
MODEL_TO_API = {model: api for api, model in CUSTOMER_FIELDS.items()}


class DomainList(serializers.ListField):
    """A customer's e-mail domains as a list (stored as one text; the customers service checks each)."""

    child = serializers.CharField(max_length=253)

    def to_representation(self, data):
        return str(data or "").split()

    def to_internal_value(self, data):
        return " ".join(super().to_internal_value(data))


class CustomerSerializer(serializers.ModelSerializer):
    CustomerID = serializers.CharField(source="customer_id", max_length=150)
    CustomerCompanyName = serializers.CharField(source="name", max_length=200)
    CustomerCompanyStreet = serializers.CharField(
        source="street", max_length=200, required=False, allow_blank=True
    )
    CustomerCompanyZIP = serializers.CharField(source="zip", max_length=200, required=False, allow_blank=True)
    CustomerCompanyCity = serializers.CharField(
        source="city", max_length=200, required=False, allow_blank=True
    )
    CustomerCompanyCountry = serializers.CharField(
        source="country", max_length=200, required=False, allow_blank=True
    )
    CustomerCompanyURL = serializers.CharField(source="url", max_length=200, required=False, allow_blank=True)
    CustomerCompanyComment = serializers.CharField(
        source="comments", max_length=250, required=False, allow_blank=True
    )
    CustomerEmailDomains = DomainList(source="email_domains", required=False)
    ValidID = serializers.ChoiceField(source="validity", choices=Validity.values, required=False)

    class Meta:
        model = Customer
        fields = list(CUSTOMER_FIELDS)


class NamedSerializer(serializers.ModelSerializer):
    comments = serializers.CharField(max_length=250, required=False, allow_blank=True)
    ValidID = serializers.ChoiceField(source="validity", choices=Validity.values, required=False)


class GroupSerializer(NamedSerializer):
    class Meta:
        model = Group
        fields = ["name", "comments", "ValidID"]


class ServiceSerializer(NamedSerializer):
    class Meta:
        model = Service
        fields = ["name", "comments", "ValidID"]


class CustomerUserSerializer(serializers.Serializer):
    """The Map's attributes of one customer user (these, plus every other attribute of its source's Map)."""

    source = serializers.CharField(read_only=True)
    UserLogin = serializers.CharField()
    UserEmail = serializers.CharField(required=False, allow_blank=True)
    UserCustomerID = serializers.CharField(required=False, allow_blank=True)
    UserFirstname = serializers.CharField(required=False, allow_blank=True)
    UserLastname = serializers.CharField(required=False, allow_blank=True)
    UserFullname = serializers.CharField(read_only=True)
    ValidID = serializers.IntegerField(required=False)


class NewCustomerUserSerializer(CustomerUserSerializer):
    source = serializers.CharField(required=False, help_text="the source to add to (default CustomerUser)")
    UserPassword = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="empty or absent: a password is generated and returned once",
    )


class CreatedCustomerUserSerializer(CustomerUserSerializer):
    generated_password = serializers.CharField(required=False, allow_null=True)


class SourceWarningSerializer(serializers.Serializer):
    source = serializers.CharField()
    message = serializers.CharField()


class CustomerUserPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="rows in this answer")
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    more = serializers.BooleanField(help_text="more rows follow this page (ask again with a larger offset)")
    truncated_sources = serializers.ListField(
        child=serializers.CharField(), help_text="sources that have more matches than were read"
    )
    source_totals = serializers.DictField(
        child=serializers.IntegerField(), help_text="matches per source, where a source could count them"
    )
    warnings = SourceWarningSerializer(many=True)
    results = CustomerUserSerializer(many=True)


class PasswordSerializer(serializers.Serializer):
    password = serializers.CharField(trim_whitespace=False, min_length=1)


class GeneratedPasswordSerializer(serializers.Serializer):
    password = serializers.CharField()


class PermissionRowSerializer(serializers.Serializer):
    group = serializers.CharField()
    permissions = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="type → reasons it is held (empty: not held)",
    )


class DefaultGroupsSerializer(serializers.Serializer):
    CustomerGroupAlwaysGroups = serializers.ListField(child=serializers.CharField())
    CustomerGroupCompanyAlwaysGroups = serializers.ListField(child=serializers.CharField())


class SourceSerializer(serializers.Serializer):
    alias = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField()
    read_only = serializers.BooleanField()
    reachable = serializers.BooleanField()
    probe_ms = serializers.FloatField(allow_null=True)
    count = serializers.IntegerField(allow_null=True, help_text="customer users the source holds")
    valid_count = serializers.IntegerField(allow_null=True, help_text="of them valid (exact, like count)")
    count_complete = serializers.BooleanField(
        help_text="false when the server stopped counting (a directory's size limit): count is a lower bound"
    )
    detail = serializers.CharField(allow_blank=True)
    config_errors = serializers.ListField(child=serializers.CharField())


class ConflictSerializer(serializers.Serializer):
    login = serializers.CharField()
    sources = serializers.ListField(child=serializers.CharField())


class SourcesSerializer(serializers.Serializer):
    sources = SourceSerializer(many=True)
    conflicts = ConflictSerializer(many=True)
    unlisted_sources = serializers.ListField(child=serializers.CharField())


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class HistoryEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    actor = serializers.CharField(
        source="actor_name", help_text="a staff user, customer:<login>, import, migration or system"
    )
    path = serializers.CharField(help_text="admin, api, panel, command or system")
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_key = serializers.CharField()
    detail = serializers.JSONField(
        help_text="what changed: changes {attribute: [old, new]}, granted, revoked …"
    )


class SyncRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.CharField()
    kind = serializers.CharField(help_text="full or incremental")
    status = serializers.CharField(help_text="running, succeeded, dry-run, refused (by the guard) or failed")
    started = serializers.DateTimeField()
    finished = serializers.DateTimeField(allow_null=True)
    counts = serializers.JSONField(
        help_text="read, added, changed, renamed, disabled, enabled, gone, refused, unchanged"
    )
    changes = serializers.JSONField(help_text="the first changes (a dry run's diff)")
    errors = serializers.JSONField(
        help_text="entries refused (login, field, value, reason), or why it stopped"
    )


class SyncRequestSerializer(serializers.Serializer):
    full = serializers.BooleanField(default=False, help_text="read every entry, not only the changes")
    dry_run = serializers.BooleanField(default=False, help_text="show the diff; write nothing")
    confirm = serializers.BooleanField(default=False, help_text="apply a run the guard would refuse")


class AnonymisedSerializer(serializers.Serializer):
    UserLogin = serializers.CharField(help_text="the person's new, opaque login")


class ScimClient(serializers.Serializer):
    name = serializers.CharField()
    source = serializers.CharField()
    companies = serializers.ListField(
        child=serializers.CharField(), help_text="customer IDs; the first is home"
    )
    rate = serializers.CharField(help_text="its rate limit, such as 1200/minute")
    is_active = serializers.BooleanField()
    token_hint = serializers.CharField(
        help_text="the token's first characters (the token is never shown again)"
    )
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class ScimClientCreated(ScimClient):
    token = serializers.CharField(help_text="its bearer token, shown this once")
