"""The directory lifecycle: a sync run turns what a directory source read (backends.ldap.sync) into the
product's decisions — a shadow row per entry, renames that carry relations and tickets along (R121), and
invalidation, never deletion, of entries gone or disabled — each with a history entry naming the run and
the rule that decided it.

One run per source at a time, across every worker and app server: a lease row in the database, renewed
while the run works and taken over once it lapses (or at once when its holder's process on this host is
gone). A run writes the shadow by identity, batch by batch, and its cookie only at the end, so a run
killed half-way is resumed by the next one, which finds the rest still to do and writes the same table.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backends.errors import SourceUnavailable
from backends.ldap.lifecycle import cron
from backends.ldap.shadow import ShadowRow
from backends.ldap.sync import DirectoryReader
from backends.models import ShadowEntry, SyncRun, SyncState
from backends.registry import SourceHandler, sources
from core import history
from core.errors import ValidationFailed
from core.generations import forget_customer_user_answers
from core.validity import Validity
from customers.selectors import as_stored
from customers.services import rename_in_own_data

logger = logging.getLogger(__name__)

SAMPLE = 200  # changes a run keeps to show (a dry run's diff)


class SyncNotConfigured(ValidationFailed):
    code = "sync.not_configured"
    template = gettext_lazy("Source {alias} is not synced: {reason}")


def sync_lease_seconds() -> int:
    return int(getattr(settings, "HELPDESK_SYNC_LEASE_SECONDS", 120))


def sync_batch() -> int:
    """Rows per transaction: a crash loses at most one batch's work, which the next run redoes."""
    return int(getattr(settings, "HELPDESK_SYNC_BATCH", 1000))


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# ------------------------------------------------------------------------------------------- the lease
def take_lease(alias: str, holder: str) -> bool:
    """Hold `alias`'s lease if no one else does (or theirs lapsed, or their process on this host died)."""
    now = timezone.now()
    SyncState.objects.bulk_create([SyncState(source=alias)], ignore_conflicts=True)
    with transaction.atomic():
        state = SyncState.objects.select_for_update().get(source=alias)
        held = state.holder and state.holder != holder and state.lease_until and state.lease_until > now
        if held and not _holder_died(state.holder):
            return False
        state.holder, state.lease_until = holder, now + dt.timedelta(seconds=sync_lease_seconds())
        state.save(update_fields=["holder", "lease_until"])
    return True


def _holder_died(holder: str) -> bool:
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def renew_lease(alias: str, holder: str) -> None:
    until = timezone.now() + dt.timedelta(seconds=sync_lease_seconds())
    SyncState.objects.filter(source=alias, holder=holder).update(lease_until=until)


def release_lease(alias: str, holder: str) -> None:
    SyncState.objects.filter(source=alias, holder=holder).update(holder="", lease_until=None)


# -------------------------------------------------------------------------------------------- the diff
@dataclass
class Diff:
    """What a run would do: rows to write (added, changed, renamed, disabled, enabled), identities gone,
    rows refused by the Map's rules, and how many valid customer users it would invalidate."""

    added: list[ShadowRow] = field(default_factory=list)
    changed: list[tuple[ShadowRow, str]] = field(default_factory=list)  # (row, what changed)
    gone: list[str] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    invalidating: int = 0
    valid_before: int = 0

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1


def _classify(rows: list[ShadowRow], known: dict, logins: dict[str, str], diff: Diff, rules) -> None:
    """Each row against the shadow's `known` rows (identity → digest, login, valid_id, present); `logins`
    maps casefolded logins to the identity holding them, so two entries cannot share one."""
    for row in _spelled_as_stored(rows):
        problems = rules.errors({**row.attributes, "ValidID": row.valid_id})
        holder = logins.get(row.login.casefold())
        if holder is not None and holder != row.identity:
            problems.setdefault("UserLogin", []).append(
                _("login %(login)r is held by another entry of this directory") % {"login": row.login}
            )
        if problems:
            attribute, messages = next(iter(problems.items()))
            value = row.login if attribute == "UserLogin" else row.attributes.get(attribute, "")
            diff.refused.append({"login": row.login, "dn": row.dn, "field": attribute, "value": str(value),
                                 "reason": " ".join(messages)})  # fmt: skip
            diff.count("refused")
            continue
        before = known.get(row.identity)
        logins[row.login.casefold()] = row.identity
        if before is None:
            diff.added.append(row)
            diff.count("added")
            continue
        digest, login, valid_id, present = before
        if digest == row.digest and present:
            diff.count("unchanged")
            continue
        if login != row.login:
            what = "renamed"
        elif row.disabled and valid_id == Validity.VALID:
            what = "disabled"
        elif row.valid_id == Validity.VALID and (valid_id != Validity.VALID or not present):
            what = "enabled"
        else:
            what = "changed"
        if valid_id == Validity.VALID and present and row.valid_id != Validity.VALID:
            diff.invalidating += 1
        diff.changed.append((row, what))
        diff.count(what)


def _spelled_as_stored(rows: list[ShadowRow]) -> list[ShadowRow]:
    """The rules' companies (and a Primary one as the customer ID) as the customers spell them, as every
    other path stores a customer ID given in another case."""
    named = {item[0] for row in rows for item in row.derived.get("companies", ())}
    if not named:
        return rows
    spelled = dict(zip(sorted(named), as_stored(sorted(named)), strict=True))
    fixed = []
    for row in rows:
        companies = [[spelled.get(item[0], item[0]), *item[1:]] for item in row.derived.get("companies", ())]
        if companies == row.derived.get("companies", []):
            fixed.append(row)
            continue
        customer_id = spelled.get(row.customer_id, row.customer_id)
        attributes = (
            {**row.attributes, "UserCustomerID": customer_id}
            if customer_id != row.customer_id
            else row.attributes
        )
        fixed.append(replace(row, customer_id=customer_id, attributes=attributes,
                             derived={**row.derived, "companies": companies}))  # fmt: skip
    return fixed


def _sample(diff: Diff, known: dict) -> list[dict[str, str]]:
    shown = [{"change": "added", "login": r.login, "dn": r.dn} for r in diff.added[:SAMPLE]]
    shown += [{"change": what, "login": r.login, "dn": r.dn, "was": known[r.identity][1]}
              for r, what in diff.changed[:SAMPLE]]  # fmt: skip
    shown += [{"change": "gone", "login": known[i][1]} for i in diff.gone[:SAMPLE]]
    return shown[:SAMPLE]


# ---------------------------------------------------------------------------------------------- the run
@dataclass(frozen=True)
class Outcome:
    run: SyncRun | None  # None: another worker holds the lease, this one skipped
    message: str

    @property
    def ok(self) -> bool:
        return self.run is None or self.run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.DRY_RUN)


def sync_source(
    alias: str,
    *,
    full: bool = False,
    dry_run: bool = False,
    confirm: bool = False,
    registry: SourceHandler = sources,
    progress: Callable[[int], None] | None = None,
) -> Outcome:
    """One run of `alias`'s sync (incremental unless `full`, or unless the shadow needs a full one)."""
    source = synced_source(alias, registry=registry)
    holder = holder_name()
    if not take_lease(alias, holder):
        state = SyncState.objects.get(source=alias)
        return Outcome(None, _("Skipped: %(holder)s is running a sync of %(alias)s.")
                       % {"holder": state.holder, "alias": alias})  # fmt: skip
    try:
        _close_interrupted(alias)
        state = SyncState.objects.get(source=alias)
        shadow = source.shadow
        incremental = (
            not full and bool(state.cookie) and state.last_full and state.fingerprint == shadow.fingerprint
        )
        run = SyncRun.objects.create(
            source=alias, kind="incremental" if incremental else "full", holder=holder
        )
        try:
            message = _run(run, source, state, incremental=bool(incremental), dry_run=dry_run,
                           confirm=confirm, holder=holder, progress=progress)  # fmt: skip
        except SourceUnavailable as exc:
            _finish(run, SyncRun.Status.FAILED, errors=[{"reason": exc.message}])
            return Outcome(run, _("Run %(id)s failed: %(reason)s") % {"id": run.pk, "reason": exc.message})
        except Exception as exc:
            logger.exception("sync run %s of %s failed", run.pk, alias)
            _finish(run, SyncRun.Status.FAILED, errors=[{"reason": f"{type(exc).__name__}: {exc}"}])
            return Outcome(run, _("Run %(id)s failed: %(reason)s") % {"id": run.pk, "reason": exc})
        return Outcome(run, message)
    finally:
        release_lease(alias, holder)


def synced_source(alias: str, *, registry: SourceHandler = sources):
    """The source `alias` if it is synced; UnknownSource or SyncNotConfigured otherwise (a 404, a 400)."""
    source = registry[alias]
    if not source.supports_sync:
        reason = _("a %(kind)s source is not synced") % {"kind": source.kind}
        raise SyncNotConfigured(alias=alias, reason=reason)
    if not source.sync.enabled:
        raise SyncNotConfigured(alias=alias, reason=_("its configuration does not say Sync = true"))
    return source


def _close_interrupted(alias: str) -> None:
    """Runs left `running` by a worker that died are failed (the lease said no one runs now)."""
    SyncRun.objects.filter(source=alias, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.FAILED, finished=timezone.now(),
        errors=[{"reason": "interrupted: its worker stopped before the end; the next run resumes it"}],
    )  # fmt: skip


def _finish(run: SyncRun, status: str, *, counts: dict | None = None, errors: list | None = None,
            changes: list | None = None) -> None:  # fmt: skip
    run.status, run.finished = status, timezone.now()
    if counts is not None:
        run.counts = counts
    if errors is not None:
        run.errors = errors
    if changes is not None:
        run.changes = changes
    run.save()


def _run(run: SyncRun, source, state: SyncState, *, incremental: bool, dry_run: bool, confirm: bool,
         holder: str, progress: Callable[[int], None] | None) -> str:  # fmt: skip
    alias = source.alias
    shadow = source.shadow
    reader = DirectoryReader(source)
    known = shadow.known()
    present_known = {identity for identity, (_, _, _, present) in known.items() if present}
    logins = {login.casefold(): identity for identity, (_, login, _, present) in known.items() if present}
    diff = Diff(valid_before=sum(1 for (_, _, valid, present) in known.values() if present and valid == 1))
    if incremental:
        changes = reader.changes(state.cookie, present_known)
        for identity in changes.deleted:  # a deleted entry frees its login for a renamed one
            if identity in known:
                logins.pop(known[identity][1].casefold(), None)
        _classify(changes.rows, known, logins, diff, source.rules)
        gone = (changes.deleted & present_known) - {row.identity for row in changes.rows}
        read = changes.read
        if source.reads_groups and reader.group_index().digest != state.groups_digest:
            untouched = present_known - gone - {row.identity for row in changes.rows}
            for row in _spelled_as_stored(_regranted(reader, alias, untouched)):
                diff.changed.append((row, "regranted"))
                diff.count("regranted")
    else:
        changes = None
        read = 0
        seen: set[str] = set()
        for rows, changes in reader.full():
            seen.update(row.identity for row in rows)
            _classify(rows, known, logins, diff, source.rules)
            read = changes.read
            renew_lease(alias, holder)
            if progress:
                progress(read)
        gone = present_known - (changes.present if changes is not None else seen)
    diff.gone = sorted(gone)
    diff.counts["gone"] = len(diff.gone)
    diff.invalidating += sum(1 for identity in diff.gone if known[identity][2] == Validity.VALID)
    counts = {"read": read, **diff.counts}
    sample = _sample(diff, known)
    share = 100.0 * diff.invalidating / diff.valid_before if diff.valid_before else 0.0
    if dry_run:
        _finish(run, SyncRun.Status.DRY_RUN, counts=counts, changes=sample, errors=diff.refused[:SAMPLE])
        return _("Dry run %(id)s of %(alias)s: %(counts)s; nothing written.") % {
            "id": run.pk,
            "alias": alias,
            "counts": _counts_text(counts),
        }
    if share > source.sync.guard_percent and not confirm:
        reason = _(
            "the run would invalidate %(n)d of %(valid)d valid customer users (%(share).1f %%, more than the"
            " guard's %(guard)s %%): nothing was written. Check the source's filters and Map, then run"
            " again with --dry-run to see the diff and with --confirm to apply it."
        ) % {
            "n": diff.invalidating,
            "valid": diff.valid_before,
            "share": share,
            "guard": source.sync.guard_percent,
        }
        _finish(run, SyncRun.Status.REFUSED, counts=counts, changes=sample, errors=[{"reason": reason}])
        return _("Run %(id)s of %(alias)s refused: %(reason)s") % {
            "id": run.pk,
            "alias": alias,
            "reason": reason,
        }
    _apply(run, source, diff, known, holder=holder)
    if not incremental or len(diff.added) + len(diff.changed) > len(known) // 10:
        shadow.analyse()
    now = timezone.now()
    fields = {"cookie": changes.cookie if changes is not None else "", "last_success": now,
              "groups_digest": reader.group_index().digest if source.reads_groups else ""}  # fmt: skip
    if not incremental:
        fields.update(last_full=now, fingerprint=shadow.fingerprint)
    SyncState.objects.filter(source=alias).update(**fields)
    shadow.forget_serving()
    forget_customer_user_answers(alias)
    _finish(run, SyncRun.Status.SUCCEEDED, counts=counts, changes=sample, errors=diff.refused[:SAMPLE])
    return _("Run %(id)s of %(alias)s: %(counts)s.") % {
        "id": run.pk,
        "alias": alias,
        "counts": _counts_text(counts),
    }


def _regranted(reader: DirectoryReader, alias: str, identities: set[str]) -> list[ShadowRow]:
    """Rows the directory did not change whose companies or groups its groups' change changed (a member
    added to or removed from a group changes the group's entry, not the person's)."""
    fields = ["identity", "dn", "login", "customer_id", "attributes", "search_key", "postmaster_key",
              "valid_id", "listed", "disabled", "derived", "facts"]  # fmt: skip
    rows = ShadowEntry.objects.filter(source=alias, present=True).values(*fields)
    found: list[ShadowRow] = []
    batch: list[dict[str, Any]] = []
    for entry in rows.iterator(chunk_size=5000):
        if entry["identity"] in identities:
            batch.append(entry)
        if len(batch) >= 5000:
            found += reader.regranted(batch)
            batch = []
    return found + reader.regranted(batch)


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items())


SYNC_ACTING = "sync:{alias}"


def _apply(run: SyncRun, source, diff: Diff, known: dict, *, holder: str) -> None:
    """Write the diff batch by batch: rows by identity, renames carried into the product's data (R121),
    the gone marked invalid; each change a history entry naming the run and the rule."""
    alias, shadow = source.alias, source.shadow
    by = history.Acting("system", SYNC_ACTING.format(alias=alias))
    added = [(row, "added") for row in diff.added]
    work = added + diff.changed
    size = sync_batch()
    for start in range(0, len(work), size):
        batch = work[start : start + size]
        before = _rows_before([row.identity for row, what in batch if what != "added"], alias)
        entries = []
        with transaction.atomic():
            shadow.upsert([row for row, _ in batch], run=run.pk)
            for row, what in batch:
                old = before.get(row.identity)
                if what == "renamed" and old is not None:
                    rename_in_own_data(old["login"], row.login)
                entries.append(_entry(run, row, what, old))
            history.record_many(entries, by=by)
        forget_customer_user_answers(alias)
        renew_lease(alias, holder)
    for start in range(0, len(diff.gone), size):
        batch = diff.gone[start : start + size]
        with transaction.atomic():
            shadow.mark_gone(batch, run=run.pk)
            reason = _("invalid since run %(id)s: entry absent from the directory") % {"id": run.pk}
            history.record_many([
                ("customer_user.synced", "customer_user", known[i][1],
                 {"run": run.pk, "source": alias, "change": "gone", "rule": "entry absent", "reason": reason,
                  "changes": {"ValidID": [known[i][2], Validity.INVALID]}})
                for i in batch
            ], by=by)  # fmt: skip
        forget_customer_user_answers(alias)
        renew_lease(alias, holder)


def _rows_before(identities: list[str], alias: str) -> dict[str, dict[str, Any]]:
    if not identities:
        return {}
    rows = ShadowEntry.objects.filter(source=alias, identity__in=identities)
    fields = ("identity", "login", "attributes", "valid_id", "disabled", "derived")
    return {r["identity"]: r for r in rows.values(*fields)}


def _entry(run: SyncRun, row: ShadowRow, what: str, old: dict | None) -> tuple[str, str, str, dict]:
    """One history entry: what changed, and the rule that decided it."""
    before = {**(old or {}).get("attributes", {}), "ValidID": (old or {}).get("valid_id", "")} if old else {}
    after = {**row.attributes, "ValidID": row.valid_id}
    detail: dict[str, Any] = {"run": run.pk, "source": run.source, "change": what, "dn": row.dn,
                              "changes": history.changes(before, after)}  # fmt: skip
    given = {kind: sorted(item[0] for item in row.derived.get(kind, ())) for kind in ("companies", "groups")}
    had = {kind: sorted(item[0] for item in ((old or {}).get("derived") or {}).get(kind, ()))
           for kind in ("companies", "groups")}  # fmt: skip
    detail["changes"].update({kind: [had[kind], given[kind]] for kind in given if given[kind] != had[kind]})
    if what == "disabled":
        detail["rule"] = f"disabled in the directory ({row.disabled})"
        detail["reason"] = _("invalid since run %(id)s: disabled in the directory (%(why)s)") % {
            "id": run.pk,
            "why": row.disabled,
        }
    elif what == "regranted":
        detail["rule"] = "the directory's groups"
    elif what == "renamed":
        detail["rule"] = "same identity, new login"
        detail["was"] = old["login"] if old else ""
    elif row.valid_id != Validity.VALID:
        detail["rule"] = "the directory's validity"
        detail["reason"] = _("invalid since run %(id)s: the directory marks it invalid") % {"id": run.pk}
    else:
        detail["rule"] = "entry read from the directory"
    return ("customer_user.synced", "customer_user", row.login, detail)


# ------------------------------------------------------------------------------------------------ reads
def sync_runs(alias: str, *, registry: SourceHandler = sources):
    """The runs of a synced source, newest first (UnknownSource or SyncNotConfigured for another)."""
    synced_source(alias, registry=registry)
    return SyncRun.objects.filter(source=alias)


def sync_health(registry: SourceHandler = sources) -> dict[str, dict[str, Any]]:
    """Per synced source: its last run, and whether that failed or the schedule's next run is overdue."""
    report: dict[str, dict[str, Any]] = {}
    now = timezone.now()
    for alias, config in registry.configs.items():
        if not config.raw.get("Sync"):
            continue
        last = SyncRun.objects.filter(source=alias).exclude(status=SyncRun.Status.DRY_RUN).first()
        state = SyncState.objects.filter(source=alias).first()
        succeeded = state.last_success if state else None
        entry: dict[str, Any] = {
            "last_run": last.pk if last else None,
            "last_status": last.status if last else None,
            "last_success": succeeded.isoformat() if succeeded else None,
        }
        problem = ""
        if last is not None and last.status in (SyncRun.Status.FAILED, SyncRun.Status.REFUSED):
            problem = f"last sync {last.status}"
        schedule = config.raw.get("SyncIncrementalSchedule") or config.raw.get("SyncSchedule")
        if schedule and not problem:
            since = state.last_success if state and state.last_success else None
            if since is None or _missed(cron(schedule), since, now):
                problem = "sync overdue"
        entry["problem"] = problem
        report[alias] = entry
    return report


def _missed(schedule, since: dt.datetime, now: dt.datetime) -> bool:
    """Whether the schedule was due at least twice between the last success and now (one missed run is
    the one running now); past eight days without one, overdue whatever the schedule (and no minute-by-minute
    walk over them on every /health/ request)."""
    if now - since > dt.timedelta(days=8):
        return True
    due, moment = 0, since.replace(second=0, microsecond=0)
    while moment < now and due < 2:
        moment += dt.timedelta(minutes=1)
        if schedule(moment):
            due += 1
    return due >= 2
