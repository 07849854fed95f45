"""Mail the product sends on someone's request, sent after the answer.

A lost-password or sign-up answer must not tell whether an account exists: sending the mail in the request
took 60 ms for a known account against 11 ms for an unknown one, and a mail server that refused made the
known account's answer a 500. Mails go to one background sender per process instead; a failure is logged
with the recipient's domain, never the requester's error. (A process that is killed loses what it had not
sent yet; the answer said "check your mail" either way.)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait

from django.core.mail import send_mail

logger = logging.getLogger(__name__)

_sender = ThreadPoolExecutor(1, thread_name_prefix="mail")
_pending: set[Future] = set()
_lock = threading.Lock()


def send_after_answer(subject: str, body: str, recipients: Sequence[str]) -> None:
    """Queue one mail (subject and body already in the recipient's language)."""
    future = _sender.submit(_send, subject, body, list(recipients))
    with _lock:
        _pending.add(future)
    future.add_done_callback(_done)


def wait_until_sent(timeout: float = 10.0) -> None:
    """Until every queued mail was sent or failed (tests, and a clean shutdown)."""
    with _lock:
        pending = set(_pending)
    wait(pending, timeout=timeout)


def _send(subject: str, body: str, recipients: list[str]) -> None:
    try:
        send_mail(subject, body, None, recipients)
    except Exception:  # a mail server's refusal is logged, never the requester's answer
        domains = ", ".join(sorted({r.rpartition("@")[2] for r in recipients}))
        logger.exception("a mail to %s could not be sent", domains)


def _done(future: Future) -> None:
    with _lock:
        _pending.discard(future)
