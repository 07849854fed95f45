"""Validity (R59): customers, customer users, groups and services are never deleted, only made invalid."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Validity(models.IntegerChoices):
    VALID = 1, _("valid")
    INVALID = 2, _("invalid")
    INVALID_TEMPORARILY = 3, _("invalid-temporarily")
