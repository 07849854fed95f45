"""What the import commands share: arguments, the progress bar, the summary and the exit status."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import CommandError
from tqdm import tqdm

from customers.imports import (
    HeaderRejected,
    ImportStopped,
    ProgressUnreadable,
    count_lines,
    file_format,
    memory_mb,
)


def add_import_arguments(parser) -> None:
    parser.add_argument(
        "file", type=Path, help="a .csv file (header first) or .jsonl file (one object per line)"
    )
    parser.add_argument("--format", choices=["csv", "jsonl"], help="default: from the file name")
    parser.add_argument("--dry-run", action="store_true", help="validate everything, write nothing")
    parser.add_argument("--resume", action="store_true", help="carry on after the last committed batch")
    parser.add_argument("--batch-size", type=int, default=5000)


def run_import(command, importer_class, options, **extra) -> None:
    path: Path = options["file"]
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    total = max(0, count_lines(path) - (file_format(path, options["format"]) == "csv"))
    started = time.perf_counter()
    label = f"{'checking' if options['dry_run'] else 'importing'} {path.name}"
    quiet = options.get("verbosity", 1) == 0
    with tqdm(total=total, unit=" rows", unit_scale=True, disable=quiet, desc=label) as bar:
        importer = importer_class(
            path,
            fmt=options["format"],
            dry_run=options["dry_run"],
            resume=options["resume"],
            batch_size=options["batch_size"],
            progress=bar.update,
            **extra,
        )
        try:
            result = importer.run()
        except HeaderRejected as exc:
            raise CommandError(f"{path} line 1, the header: {exc} Nothing was imported.") from exc
        except ProgressUnreadable as exc:
            raise CommandError(f"{exc}. Remove it to import the whole file again.") from exc
        except ImportStopped as exc:
            raise CommandError(
                f"Import stopped: {exc}. What was committed stays; run again with --resume."
            ) from exc
    elapsed = time.perf_counter() - started
    written = (
        f"would write {result.read - result.error_rows}" if result.dry_run else f"wrote {result.written}"
    )
    resumed = f" (resumed after line {result.resumed_after})" if result.resumed_after else ""
    rate = result.read / elapsed if elapsed else 0
    command.stdout.write(
        f"{result.read} rows read{resumed}, {written} {importer.kind}, {result.error_rows} rows with errors;"
        f" {rate:,.0f} rows/s, peak memory {memory_mb():.0f} MB"
    )
    if result.report_rows:
        command.stderr.write(f"Errors (line, field, value, reason) are in {importer.report_path}")
        raise CommandError(
            f"{result.report_rows} rows were not imported; see {importer.report_path}", returncode=1
        )
