"""The jobs workers run (huey: `manage.py run_huey`): each calls one service. The directory sync's runs are
scheduled here from each synced source's SyncSchedule (full) and SyncIncrementalSchedule; the service's
lease keeps one run per source at a time however many workers fire."""

from __future__ import annotations

import logging

from huey.contrib.djhuey import HUEY, db_task

from backends.ldap.lifecycle import cron
from backends.registry import SourceHandler, sources
from customers.import_runs import run_import
from customers.sync import sync_source

logger = logging.getLogger(__name__)


@db_task()
def sync_source_job(alias: str, full: bool = False, dry_run: bool = False, confirm: bool = False) -> str:
    """One run of a source's sync, as `manage.py sync_source ALIAS [--full] [--dry-run] [--confirm]`."""
    outcome = sync_source(alias, full=full, dry_run=dry_run, confirm=confirm)
    (logger.info if outcome.ok else logger.error)("%s", outcome.message)
    return outcome.message


@db_task()
def import_file_job(run_id: int) -> str:
    """An import queued from the admin (customers.import_runs)."""
    run = run_import(run_id)
    return f"{run.name}: {run.status}"


def schedule_syncs(registry: SourceHandler = sources) -> list[str]:
    """A periodic job per synced source and schedule; returns their names."""
    names = []
    for alias, config in registry.configs.items():
        if not config.raw.get("Sync"):
            continue
        for full, key in ((True, "SyncSchedule"), (False, "SyncIncrementalSchedule")):
            expression = config.raw.get(key)
            if not expression:
                continue
            name = f"sync-{alias}-{'full' if full else 'incremental'}"

            def run(alias: str = alias, full: bool = full) -> str:
                return sync_source_job.call_local(alias, full=full)

            run.__name__ = name.replace("-", "_")
            HUEY.periodic_task(cron(expression), name=name)(run)
            names.append(name)
    return names


SCHEDULED = schedule_syncs()
