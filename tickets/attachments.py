"""Files customers attach to a new ticket or an answer: a list of allowed kinds, each checked by its name and
by its first bytes (a `.pdf` must begin as a PDF does), at most HELPDESK_ATTACHMENT_MAX_BYTES each and
ATTACHMENTS_AT_MOST per article; kept by Django's default storage under MEDIA_ROOT, never served from there:
the panel hands a file only to a customer who may read its ticket (tickets.selectors.customer_attachment)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from tickets.models import Article, Attachment

ZIP = b"PK\x03\x04"
# extension → (content type, how the file begins; None: text, checked to be UTF-8 without NUL)
KINDS: dict[str, tuple[str, bytes | None]] = {
    ".pdf": ("application/pdf", b"%PDF-"),
    ".png": ("image/png", b"\x89PNG\r\n\x1a\n"),
    ".jpg": ("image/jpeg", b"\xff\xd8\xff"),
    ".jpeg": ("image/jpeg", b"\xff\xd8\xff"),
    ".gif": ("image/gif", b"GIF8"),
    ".zip": ("application/zip", ZIP),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ZIP),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ZIP),
    ".odt": ("application/vnd.oasis.opendocument.text", ZIP),
    ".txt": ("text/plain", None),
    ".log": ("text/plain", None),
    ".csv": ("text/csv", None),
}
ATTACHMENTS_AT_MOST = 10


def accepted() -> str:
    """The `accept` attribute of the file field: the extensions allowed."""
    return ",".join(KINDS)


def attachment_problems(files: Iterable[Any]) -> list[str]:
    """What is wrong with these uploaded files, each problem naming the file; empty when all may be kept."""
    files = list(files)
    problems = []
    if len(files) > ATTACHMENTS_AT_MOST:
        problems.append(_("At most %(count)d files per message.") % {"count": ATTACHMENTS_AT_MOST})
    limit = settings.ATTACHMENT_MAX_BYTES
    for upload in files:
        name = upload.name or ""
        kind = KINDS.get(PurePath(name).suffix.lower())
        if kind is None:
            problems.append(_("%(name)s: files of this kind cannot be attached (allowed: %(kinds)s).")
                            % {"name": name, "kinds": ", ".join(KINDS)})  # fmt: skip
        elif upload.size > limit:
            sizes = {"name": name, "size": filesizeformat(upload.size), "limit": filesizeformat(limit)}
            problems.append(_("%(name)s is %(size)s; at most %(limit)s per file.") % sizes)
        elif not _begins_as(upload, kind[1]):
            problems.append(
                _("%(name)s is not what its name says (%(type)s).") % {"name": name, "type": kind[0]}
            )
    return problems


def keep(article: Article, files: Iterable[Any]) -> list[Attachment]:
    """Store checked files with the article (call `attachment_problems` first)."""
    kept = []
    for upload in files:
        name = get_valid_filename(PurePath(upload.name).name) or "attachment"
        content_type = KINDS[PurePath(name).suffix.lower()][0]
        attachment = Attachment(article=article, filename=name, content_type=content_type, size=upload.size)
        attachment.file.save(name, upload, save=False)
        attachment.save()
        kept.append(attachment)
    return kept


def _begins_as(upload: Any, magic: bytes | None) -> bool:
    upload.seek(0)
    head = upload.read(4096)
    upload.seek(0)
    if magic is not None:
        return head.startswith(magic)
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a multi-byte character cut at 4096 bytes is still text
        return exc.start >= len(head) - 3
    return True
