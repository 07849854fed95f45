import logging
import os

from django.core.wsgi import get_wsgi_application

from helpdesk.bodies import ChunkedBodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

application = ChunkedBodies(get_wsgi_application())


def _say_what_is_missing() -> None:
    """At start-up, what `check --deploy` says of a missing `collectstatic` (pages would fail without it)."""
    from core.checks import check_static_files_collected

    for message in check_static_files_collected():
        logging.getLogger("helpdesk").critical("%s %s", message.msg, message.hint)


_say_what_is_missing()
