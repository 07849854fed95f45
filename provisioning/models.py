"""What a SCIM client is and what the SCIM protocol holds beyond the customer-user record (issue 38): the
client's token (as a digest), its source and companies; a person's externalId, extra addresses and numbers,
enterprise attributes and version; SCIM groups and their members."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from customers.models import CustomerUser


class ScimClient(models.Model):
    """One customer's identity provider: one token, one writable source, one or more companies."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    token_digest = models.CharField(max_length=64, unique=True)  # SHA-256 of the token: never stored clear
    token_hint = models.CharField(max_length=12)  # its first characters, to tell tokens apart in lists
    source = models.CharField(_("source"), max_length=64)
    companies = models.JSONField(_("companies"), default=list)  # customer IDs as stored; the first is home
    rate = models.CharField(_("rate limit"), max_length=20, default="1200/minute")
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("SCIM client")
        verbose_name_plural = _("SCIM clients")

    def __str__(self) -> str:
        return self.name

    @property
    def home_company(self) -> str:
        return self.companies[0] if self.companies else ""


class ScimUser(models.Model):
    """A customer user as a SCIM client provisioned it: what SCIM holds that the Map does not."""

    customer_user = models.OneToOneField(CustomerUser, on_delete=models.CASCADE, related_name="scim")
    client = models.ForeignKey(ScimClient, on_delete=models.PROTECT, related_name="users")
    external_id = models.CharField(max_length=255, blank=True)
    emails = models.JSONField(default=list)  # [{"value", "type", "primary"}]: the primary one is UserEmail
    phone_numbers = models.JSONField(default=list)
    addresses = models.JSONField(default=list)
    enterprise = models.JSONField(default=dict)  # urn:ietf:params:scim:schemas:extension:enterprise:2.0:User
    # DELETE made the person invalid (never deleted, R59) and gone for SCIM (RFC 7644 §3.6: 404 from then
    # on); a later POST of the same userName by the same client provisions them again.
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "external_id"], condition=~Q(external_id=""), name="scim_user_external_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.client}: {self.customer_user_id}"


class ScimGroup(models.Model):
    """A group a SCIM client pushed; what it grants is its source's `ScimGroups` mapping (none: nothing)."""

    client = models.ForeignKey(ScimClient, on_delete=models.PROTECT, related_name="groups")
    display_name = models.CharField(max_length=255)
    external_id = models.CharField(max_length=255, blank=True)
    members = models.ManyToManyField(CustomerUser, related_name="scim_groups", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("client", Lower("display_name"), name="scim_group_display_name"),
        ]

    def __str__(self) -> str:
        return self.display_name


class SignOnIdentity(models.Model):
    """A customer user's identity at a single sign-on provider: linked by the provider's immutable subject,
    never by e-mail. `granted` is what the provider's claims gave at the last login (companies, groups
    with types), so the next login takes back what they no longer give."""

    provider = models.CharField(_("identity provider"), max_length=64)
    subject = models.CharField(_("subject"), max_length=255)
    source = models.CharField(_("source"), max_length=32)
    login = models.CharField(_("login"), max_length=191)
    granted = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "sign_on_identity"
        verbose_name = _("single sign-on identity")
        verbose_name_plural = _("single sign-on identities")
        constraints = [
            models.UniqueConstraint(fields=["provider", "subject"], name="sign_on_identity_unique")
        ]
        indexes = [models.Index(Lower("login"), name="sign_on_identity_login")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.subject} → {self.login}"
