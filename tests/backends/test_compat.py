"""The django-ldapdb shim (backends/compat.py) against the session's real slapd."""

import ldap
import pytest
from django.utils import timezone

from tests.ldap_server import PEOPLE_DN


def test_ldapdb_imports_on_django_5():
    from backends.compat import ldapdb

    assert ldapdb.models.Model
    assert timezone.utc.utcoffset(None).total_seconds() == 0


@pytest.mark.ldap
def test_slapd_answers_a_bind_add_and_search(slapd):
    connection = ldap.initialize(slapd.ldap_uri)
    connection.simple_bind_s(slapd.root_dn, slapd.root_pw)
    dn = f"uid=zoe,{PEOPLE_DN}"
    connection.add_s(dn, [
        ("objectClass", [b"inetOrgPerson"]), ("uid", [b"zoe"]), ("cn", ["Zoë Schröder".encode()]),
        ("sn", ["Schröder".encode()]), ("mail", [b"zoe@example.org"]),
    ])  # fmt: skip
    [(found_dn, entry_attrs)] = connection.search_s(
        PEOPLE_DN, ldap.SCOPE_ONELEVEL, "(&(uid=ZOE)(sn=schröder))"
    )
    assert found_dn == dn
    assert entry_attrs["cn"] == ["Zoë Schröder".encode()]
    connection.delete_s(dn)
