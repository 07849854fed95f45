"""Imports queued from the admin and run as jobs: the file is kept under the instance's `imports` directory,
the job runs the import commands' own engine (customers.imports: the same rules, batches, history and report)
and records how far it got, so the admin shows a progress bar."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.text import get_valid_filename

from backends.registry import sources
from core.errors import ValidationFailed
from customers.imports import (
    CustomerImporter,
    CustomerUserImporter,
    HeaderRejected,
    ImportStopped,
    count_lines,
    file_format,
)
from customers.models import ImportRun

KINDS = {"customer_users": CustomerUserImporter, "customers": CustomerImporter}
PROGRESS_SECONDS = 1.0  # how often a running import writes how far it got


def imports_root() -> Path:
    return Path(getattr(settings, "IMPORTS_ROOT", settings.VAR_DIR / "imports"))


def queue_import(*, upload: Any, kind: str, source: str, acting_user: Any) -> ImportRun:
    """Keep the uploaded file and record the import it asks for (the caller queues `run_import`)."""
    if kind not in KINDS:
        raise ValidationFailed.on("kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "customer_users" and (source not in sources.aliases or not sources[source].reads_own_table):
        raise ValidationFailed.on("source", f"{source!r} is not a source whose table an import writes")
    name = Path(getattr(upload, "name", "") or "upload.csv").name
    root = imports_root()
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{secrets.token_hex(8)}-{get_valid_filename(name)}"
    with path.open("wb") as target:
        for chunk in upload.chunks():
            target.write(chunk)
    total = max(0, count_lines(path) - (file_format(path) == "csv"))
    return ImportRun.objects.create(
        kind=kind, source=source if kind == "customer_users" else "", name=name, path=str(path), total=total,
        requested_by=acting_user if getattr(acting_user, "pk", None) else None,
    )  # fmt: skip


def run_import(run_id: int) -> ImportRun:
    """The job: import the run's file as `import_customer_users` / `import_customers` would."""
    run = ImportRun.objects.get(pk=run_id)
    if run.status != ImportRun.Status.QUEUED:
        return run  # a job delivered twice runs once
    run.status = ImportRun.Status.RUNNING
    run.save(update_fields=["status"])
    last = [time.monotonic()]

    def progress(rows: int) -> None:
        run.read += rows
        if time.monotonic() - last[0] >= PROGRESS_SECONDS:
            last[0] = time.monotonic()
            ImportRun.objects.filter(pk=run.pk).update(read=run.read)

    extra = {"config": sources.configs[run.source]} if run.kind == "customer_users" else {}
    importer = KINDS[run.kind](Path(run.path), progress=progress, **extra)
    try:
        result = importer.run()
    except (HeaderRejected, ImportStopped, ValueError, OSError) as exc:
        run.status, run.message = ImportRun.Status.FAILED, str(exc)
    else:
        run.status = ImportRun.Status.SUCCEEDED
        run.read, run.written, run.refused = result.read, result.written, result.report_rows
    run.finished = timezone.now()
    run.save()
    return run


def import_report(run: ImportRun) -> Path | None:
    """The file of refused rows (line, field, value, reason), if the import refused any."""
    report = Path(run.path).with_name(Path(run.path).name + ".errors.csv")
    return report if report.exists() else None


def recent_imports(limit: int = 50):
    return ImportRun.objects.all()[:limit]


def get_import_run(run_id: int) -> ImportRun | None:
    return ImportRun.objects.filter(pk=run_id).first()
