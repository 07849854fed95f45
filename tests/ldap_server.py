"""A throwaway slapd for the test session, started by python-ldap's slapdtest on a free loopback port."""

from __future__ import annotations

import os

os.environ.setdefault("SLAPD", "/usr/sbin/slapd")
os.environ.setdefault("SCHEMA", "/etc/ldap/schema")

import slapdtest

BASE_DN = "dc=example,dc=org"
PEOPLE_DN = f"ou=people,{BASE_DN}"


class DirectoryServer(slapdtest.SlapdObject):
    suffix = BASE_DN
    root_cn = "admin"
    root_pw = "admin-secret"
    slapd_loglevel = "0"
    openldap_schema_files = ("core.ldif", "cosine.ldif", "inetorgperson.ldif")

    def start(self) -> None:
        super().start()
        # The suffix entry comes before anything below it.
        self.ldapadd(
            f"dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n"
            f"dn: {PEOPLE_DN}\nobjectClass: organizationalUnit\nou: people\n"
        )
