"""What the product keeps about a synced directory: a shadow row per entry, the source's sync state (its
lease and change cookie), and the runs."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower


class ShadowEntry(models.Model):
    """One entry of a synced directory source as its last sync read it, recognised by its identity
    (`entryUUID`, `nsUniqueId`, `objectGUID`): a renamed or moved entry keeps its row.

    `attributes` are the record's (the Map's attributes); `search_key` and `postmaster_key` hold every value
    of the source's search and postmaster fields as `␟v1␟v2␟…␟`, lower-cased, so a search is one
    comparison per row, answered by a trigram index on PostgreSQL; `folded_key` is `search_key` with its
    accents dropped (backends.folding), for the screens' accent-blind search. A row is never deleted: an
    entry gone from the directory stays, `present` False, so its customer user stays visible as invalid."""

    source = models.CharField(max_length=64)
    identity = models.CharField(max_length=255)
    dn = models.TextField()
    login = models.CharField(max_length=255)
    customer_id = models.CharField(max_length=255, blank=True)
    attributes = models.JSONField(default=dict)
    search_key = models.TextField(blank=True)
    folded_key = models.TextField(blank=True, default="")
    postmaster_key = models.TextField(blank=True)
    valid_id = models.SmallIntegerField(default=1)  # the record's validity: gone or disabled is invalid
    listed = models.BooleanField(default=True)  # the valid filter and GroupDN let searches show it (R75, R76)
    disabled = models.CharField(max_length=200, blank=True)  # why the directory disables it, if it does
    present = models.BooleanField(default=True)
    # What CompanyRules and GroupRules give ({"companies": [...], "groups": [...]}, each with its reason), and
    # the facts they read beyond the attributes (rule attributes, memberOf, the CustomerID attribute's value
    # before a Primary rule replaced it): a group's change re-derives rows the directory did not change.
    derived = models.JSONField(default=dict)
    facts = models.JSONField(default=dict)
    digest = models.CharField(max_length=32)  # of everything above that comes from the directory
    run = models.BigIntegerField(null=True)  # the run that last changed the row

    class Meta:
        db_table = "directory_shadow_entry"
        constraints = [models.UniqueConstraint(fields=["source", "identity"], name="shadow_identity")]
        indexes = [
            models.Index("source", Lower("login"), name="shadow_login"),
            models.Index("source", Lower("customer_id"), name="shadow_customer_id"),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.login}"


class ShadowValue(models.Model):
    """Every value of a shadow row's search fields, lower-cased, one row each (PostgreSQL only): a prefix
    term (`mül*`) is then a range of a btree index, read in order and stopped at the page's size, where
    the search key's trigram index had to find every match first."""

    entry = models.ForeignKey(ShadowEntry, on_delete=models.CASCADE, db_constraint=False, related_name="+")
    source = models.CharField(max_length=64)
    value = models.TextField()

    class Meta:
        db_table = "directory_shadow_value"
        indexes = [models.Index(fields=["entry"], name="shadow_value_entry")]

    def __str__(self) -> str:
        return self.value


class SyncState(models.Model):
    """One row per synced source: who holds its lease (one run at a time across every worker), the
    change cookie of the last successful run, and the configuration the shadow was written with."""

    source = models.CharField(primary_key=True, max_length=64)
    holder = models.CharField(max_length=200, blank=True)  # host:pid of the running worker
    lease_until = models.DateTimeField(null=True)
    cookie = models.TextField(blank=True)  # RFC 4533 cookie, or the change time of the last run
    fingerprint = models.CharField(max_length=32, blank=True)  # the config the shadow serves (empty: none)
    groups_digest = models.CharField(max_length=32, blank=True)  # the directory's groups the rows were given
    last_full = models.DateTimeField(null=True)
    last_success = models.DateTimeField(null=True)

    class Meta:
        db_table = "directory_sync_state"

    def __str__(self) -> str:
        return self.source


class SyncRun(models.Model):
    """One run of a source's sync: what it found and did, or why it stopped."""

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        DRY_RUN = "dry-run"
        REFUSED = "refused"  # by the guard
        FAILED = "failed"

    source = models.CharField(max_length=64)
    kind = models.CharField(max_length=12)  # full | incremental
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    started = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True)
    holder = models.CharField(max_length=200, blank=True)
    counts = models.JSONField(default=dict)  # added, changed, renamed, disabled, enabled, gone, refused, read
    changes = models.JSONField(default=list)  # a sample of the diff (dry runs show it)
    errors = models.JSONField(default=list)  # [{"login", "field", "value", "reason"}] and run failures

    class Meta:
        db_table = "directory_sync_run"
        ordering = ["-id"]
        indexes = [models.Index(fields=["source", "-id"], name="sync_run_source")]

    def __str__(self) -> str:
        return f"{self.source} run {self.pk}"
