"""Fixes for third-party breakage, in one place.

django-ldapdb 1.5.1 (its last release) reads `django.utils.timezone.utc`, which Django 5 removed; it fails
to import without it. Any tzinfo for UTC will do: ldapdb only uses it to make generalized times aware.
Import ldapdb through this module, never directly.
"""

import pytz
from django.utils import timezone

if not hasattr(timezone, "utc"):
    timezone.utc = pytz.utc

import ldapdb
import ldapdb.models
import ldapdb.models.fields

__all__ = ["ldapdb"]
