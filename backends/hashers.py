"""The reference's password hash formats (R88), verified so migrated users can log in, then re-hashed.

A stored value in one of the reference's formats has no Django algorithm prefix. `as_django_encoded` gives
it one of the `reference_*` algorithms below, so `django.contrib.auth.hashers.check_password` verifies it
and, because none of them is the preferred hasher, calls the setter with the clear password: the DB source
stores Django's hash in its place on the first successful login (W7). None of them can make a new hash.

The classic formats are verified by libpass (the maintained passlib); the reference's own bcrypt layout
(`BCRYPT:cost:16-char salt:hash`, Crypt::Eksblowfish with `key_nul`) by the bcrypt library.
"""

from __future__ import annotations

import base64
import hmac
import re

import bcrypt
from django.contrib.auth.hashers import BasePasswordHasher, identify_hasher
from django.utils.translation import gettext_noop
from passlib.hash import (
    apr_md5_crypt,
    des_crypt,
    hex_sha1,
    hex_sha256,
    hex_sha512,
    md5_crypt,
    sha256_crypt,
    sha512_crypt,
)

_HEX = re.compile(r"^[0-9a-fA-F]+$")
_BCRYPT = re.compile(r"^BCRYPT:(\d+):(.{16}):(.+)$", re.DOTALL)
_MODULAR_BCRYPT = re.compile(r"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")
_STD_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT_B64 = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def reference_format(stored: str) -> str | None:
    """The `reference_*` algorithm of a stored value in one of R88's formats (or `bcrypt` for the
    60-character bcrypt this product writes where Django's own form does not fit), or None."""
    if _MODULAR_BCRYPT.match(stored):
        return "bcrypt"
    if stored.startswith("BCRYPT:"):
        return "reference_bcrypt"
    if stored.startswith("$apr1$"):
        return "reference_apr1"
    if stored.startswith("$1$"):
        return "reference_md5_crypt"
    if stored.startswith(("$5$", "$6$")):
        return "reference_sha_crypt"
    if _HEX.match(stored):
        return {40: "reference_sha1", 64: "reference_sha256", 128: "reference_sha512"}.get(len(stored))
    if len(stored) == 13:
        return "reference_des_crypt"
    return None


def as_django_encoded(stored: str) -> str | None:
    """`stored` as Django's check_password understands it: unchanged if it is Django's, prefixed if it
    is the reference's, None if it is neither (such a value never verifies).
    """
    if not stored:
        return None
    try:
        identify_hasher(stored)
        return stored
    except ValueError:
        algorithm = reference_format(stored)
        return f"{algorithm}${stored}" if algorithm else None


class _ReferenceHasher(BasePasswordHasher):
    """Verifies one legacy format; never makes a hash (and so always asks to be replaced)."""

    def _stored(self, encoded: str) -> str:
        return encoded.split("$", 1)[1]

    def _verify(self, password: str, stored: str) -> bool:
        raise NotImplementedError

    def verify(self, password: str, encoded: str) -> bool:
        try:
            return self._verify(password, self._stored(encoded))
        except ValueError:  # a malformed stored value, or a password the format cannot take
            return False

    def encode(self, password: str, salt: str) -> str:
        raise NotImplementedError("reference hashes are only verified, never made")

    def decode(self, encoded: str) -> dict:
        return {"algorithm": self.algorithm, "hash": self._stored(encoded), "salt": ""}

    def safe_summary(self, encoded: str) -> dict:
        return {
            gettext_noop("algorithm"): self.algorithm,
            gettext_noop("hash"): self._stored(encoded)[:6] + "…",
        }

    def must_update(self, encoded: str) -> bool:
        return True

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass


class ReferenceSHA1Hasher(_ReferenceHasher):
    algorithm = "reference_sha1"

    def _verify(self, password, stored):
        return hex_sha1.verify(password, stored.lower())


class ReferenceSHA256Hasher(_ReferenceHasher):
    algorithm = "reference_sha256"

    def _verify(self, password, stored):
        return hex_sha256.verify(password, stored.lower())


class ReferenceSHA512Hasher(_ReferenceHasher):
    algorithm = "reference_sha512"

    def _verify(self, password, stored):
        return hex_sha512.verify(password, stored.lower())


class ReferenceDESCryptHasher(_ReferenceHasher):
    algorithm = "reference_des_crypt"

    def _verify(self, password, stored):
        return des_crypt.verify(password, stored)


class ReferenceMD5CryptHasher(_ReferenceHasher):
    algorithm = "reference_md5_crypt"

    def _verify(self, password, stored):
        return md5_crypt.verify(password, stored)


class ReferenceApr1Hasher(_ReferenceHasher):
    algorithm = "reference_apr1"

    def _verify(self, password, stored):
        return apr_md5_crypt.verify(password, stored)


class ReferenceSHACryptHasher(_ReferenceHasher):
    algorithm = "reference_sha_crypt"

    def _verify(self, password, stored):
        return (sha256_crypt if stored.startswith("$5$") else sha512_crypt).verify(password, stored)


class ReferenceBcryptHasher(_ReferenceHasher):
    """`BCRYPT:cost:salt:hash`: Eksblowfish bcrypt of the UTF-8 password with its NUL, 16-octet salt."""

    algorithm = "reference_bcrypt"

    def _stored(self, encoded: str) -> str:
        return encoded.removeprefix(f"{self.algorithm}$")

    def _verify(self, password, stored):
        match = _BCRYPT.match(stored)
        if match is None:
            return False
        cost, salt, expected = int(match[1]), match[2].encode("utf-8"), match[3]
        if len(salt) != 16 or not 4 <= cost <= 31:
            return False
        salt22 = base64.b64encode(salt).rstrip(b"=").translate(bytes.maketrans(_STD_B64, _BCRYPT_B64))
        hashed = bcrypt.hashpw(password.encode("utf-8"), b"$2a$%02d$%s" % (cost, salt22))
        return hmac.compare_digest(hashed[-31:].decode("ascii"), expected)
