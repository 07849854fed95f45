"""Throwaway slapd servers started by python-ldap's slapdtest on free loopback ports, and their data.

The session directory holds more people than its size limit (so paging is proven, not assumed), with
international UTF-8 names, and a second base (`ou=partners`) for a second LDAP source.
"""

from __future__ import annotations

import os
import random
import subprocess
import tempfile
from pathlib import Path

os.environ.setdefault("SLAPD", "/usr/sbin/slapd")
os.environ.setdefault("TMP", tempfile.gettempdir())  # slapdtest's run directories (default: the cwd)
os.environ.setdefault("SCHEMA", "/etc/ldap/schema")

import slapdtest

BASE_DN = "dc=example,dc=org"
PEOPLE_DN = f"ou=people,{BASE_DN}"
PARTNERS_DN = f"ou=partners,{BASE_DN}"
SERVICE_DN = f"cn=helpdesk,{BASE_DN}"
SERVICE_PW = "service-secret"
SIZE_LIMIT = 500
ANONYMOUS_TOTAL = 1000
PEOPLE = 2100
PARTNERS = 60
CUSTOMER_IDS = [f"LDAP-{n:02d}" for n in range(20)]
PASSWORD = "Directory-pass-1"  # every generated person's password

FIRST_NAMES = [
    "Zoë", "Søren", "Łukasz", "José", "François", "Øyvind", "Ñuño", "Gül", "Đorđe", "Иван", "Мария", "李",
    "Ólafur", "Şebnem", "Αλέξανδρος", "Jürgen", "Siobhán", "Mateusz", "Ngozi", "Hiroshi", "Ana", "Björk",
]  # fmt: skip
LAST_NAMES = [
    "Müller", "Østergård", "Wąsowski", "Núñez", "Lefèvre", "Ærø", "Çelik", "Đurić", "Петров", "王",
    "Guðmundsdóttir", "Yılmaz", "Παπαδόπουλος", "Schröder", "Ó Briain", "Nowak", "Okafor", "山田", "Silva",
]  # fmt: skip


class DirectoryServer(slapdtest.SlapdObject):
    """A slapd whose size limit (500) is below its entry count; paged searches may see everything, except
    anonymous ones (at most 1,000 entries)."""

    suffix = BASE_DN
    root_cn = "admin"
    root_pw = "admin-secret"
    slapd_loglevel = "0"
    openldap_schema_files = ("core.ldif", "cosine.ldif", "inetorgperson.ldif", "nis.ldif")
    slapd_conf_template = slapdtest.SlapdObject.slapd_conf_template + (
        f"olcSizeLimit: size.soft={SIZE_LIMIT} size.hard={SIZE_LIMIT} size.prtotal=unlimited\n"
        # Anonymous readers get at most ANONYMOUS_TOTAL entries even through paged results, as many
        # directories do: their counts must say "at least".
        f"olcLimits: anonymous size.prtotal={ANONYMOUS_TOTAL}\n"
        "olcDbMaxSize: 2147483648\n"  # room for the benchmark's 100,000 entries (the default is 10 MB)
        # The service account may write; anyone may read, but no one reads a password.
        f"olcAccess: {{0}}to attrs=userPassword by dn.exact={SERVICE_DN} write by self write by anonymous auth by * none\n"
        f"olcAccess: {{1}}to * by dn.exact={SERVICE_DN} write by * read\n"
    )

    def start(self) -> None:
        super().start()
        self.ldapadd(base_ldif())

    def _write_config(self) -> None:
        """The configuration, then the indexes a directory in production has (equality and substrings of
        what searches compare): they name schema attributes, so they come after the schema is loaded.
        Writes are not synced to disk (a throwaway directory, as the test PostgreSQL runs with fsync off)."""
        super()._write_config()
        indexes = (
            "dn: olcDatabase={1}mdb,cn=config\nchangetype: modify\nadd: olcDbIndex\n"
            "olcDbIndex: objectClass eq\nolcDbIndex: uid,givenName,sn,mail,departmentNumber eq,sub\n"
            "olcDbIndex: member,uniqueMember,memberUid eq\n"
            "-\nadd: olcDbNoSync\nolcDbNoSync: TRUE\n"
        )
        subprocess.run(
            ["slapmodify", "-F", self._slapd_conf, "-n0"], input=indexes.encode(), check=True,
            capture_output=True,
        )  # fmt: skip

    def load(self, ldif: str) -> None:
        path = Path(self.testrundir) / "load.ldif"
        path.write_text(ldif, encoding="utf-8")
        self._cli_popen(self.PATH_LDAPADD, extra_args=["-f", str(path)])


def base_ldif() -> str:
    """The suffix entry first, then what lives below it (slapd refuses children of a missing parent)."""
    return (
        f"dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n"
        f"dn: {PEOPLE_DN}\nobjectClass: organizationalUnit\nou: people\n\n"
        f"dn: {PARTNERS_DN}\nobjectClass: organizationalUnit\nou: partners\n\n"
        f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: helpdesk\nuserPassword: {SERVICE_PW}\n"
    )


def person(uid: str, first: str, last: str, *, customer_id: str, ou: str = PEOPLE_DN,
           extra_customer_ids: tuple[str, ...] = (), disabled: bool = False, phone: str = "") -> str:  # fmt: skip
    lines = [
        f"dn: uid={uid},{ou}", "objectClass: inetOrgPerson", f"uid: {uid}", f"cn: {first} {last}",
        f"givenName: {first}", f"sn: {last}", f"mail: {uid}@example.org", f"departmentNumber: {customer_id}",
        f"userPassword: {PASSWORD}", f"employeeType: {'disabled' if disabled else 'active'}",
    ]  # fmt: skip
    lines += [f"businessCategory: {c}" for c in extra_customer_ids]
    if phone:
        lines.append(f"telephoneNumber: {phone}")
    return "\n".join(lines) + "\n"


def people() -> list[dict]:
    """PEOPLE people and PARTNERS partners, deterministic; a few partner logins repeat people's (conflicts)."""
    rng = random.Random(4515)
    rows = []
    for n in range(PEOPLE):
        rows.append({
            "uid": f"person{n:04d}", "first": rng.choice(FIRST_NAMES), "last": rng.choice(LAST_NAMES),
            "customer_id": CUSTOMER_IDS[n % len(CUSTOMER_IDS)], "ou": PEOPLE_DN,
            "extra_customer_ids": tuple(rng.sample(CUSTOMER_IDS, 2)) if n % 7 == 0 else (),
            "disabled": n % 50 == 49, "phone": f"+49 30 {n:07d}",
        })  # fmt: skip
    for n in range(PARTNERS):
        rows.append({
            "uid": f"person{n:04d}" if n < 3 else f"partner{n:03d}", "first": rng.choice(FIRST_NAMES),
            "last": rng.choice(LAST_NAMES), "customer_id": "PARTNER", "ou": PARTNERS_DN,
        })  # fmt: skip
    return rows


def people_ldif() -> str:
    return "\n".join(
        person(
            row["uid"],
            row["first"],
            row["last"],
            **{k: v for k, v in row.items() if k not in ("uid", "first", "last")},
        )
        for row in people()
    )


class SyncDirectoryServer(DirectoryServer):
    """A slapd that offers content synchronisation (the syncprov overlay, RFC 4533) and password policy
    lock times (ppolicy), as a directory a synced source reads; the service account, as a replica's, has
    no size limit."""

    def _write_config(self) -> None:
        super()._write_config()
        modules = (  # loaded first: the overlays' object classes exist once they are
            "dn: cn=module{0},cn=config\nchangetype: modify\nadd: olcModuleLoad\n"
            "olcModuleLoad: syncprov\nolcModuleLoad: ppolicy\n\n"
            "dn: olcDatabase={1}mdb,cn=config\nchangetype: modify\nadd: olcDbIndex\n"
            "olcDbIndex: entryUUID,entryCSN eq\n-\nadd: olcLimits\n"
            f"olcLimits: dn.exact={SERVICE_DN} size=unlimited time=unlimited\n"
        )
        overlays = (
            "dn: olcOverlay=syncprov,olcDatabase={1}mdb,cn=config\nchangetype: add\n"
            "objectClass: olcOverlayConfig\nobjectClass: olcSyncProvConfig\nolcOverlay: syncprov\n"
            "olcSpCheckpoint: 100 1\n\n"
            "dn: olcOverlay=ppolicy,olcDatabase={1}mdb,cn=config\nchangetype: add\n"
            "objectClass: olcOverlayConfig\nobjectClass: olcPPolicyConfig\nolcOverlay: ppolicy\n"
        )
        for ldif in (modules, overlays):
            subprocess.run(
                ["slapmodify", "-F", self._slapd_conf, "-n0"], input=ldif.encode(), check=True,
                capture_output=True,
            )  # fmt: skip


class Organisation:
    """A directory generated for the rules' tests and benchmark (issue 37): `users` people in one OU per
    company, `groups` groups in three nested levels (leaf ⊂ middle ⊂ top, 80 % / 16 % / 4 %) with one cycle
    (top 0 is also a member of leaf 0), and the answer worked out here, from the generator's own lists,
    without the product: `expected(login)` is (company, {customer group: types}).

    Person 0 (`org00000`) is a direct member of ten leaf groups and so, three levels deep, of twenty."""

    def __init__(self, users: int = 10_000, groups: int = 500, companies: int = 50, seed: int = 37) -> None:
        rng = random.Random(seed)
        self.users, self.companies = users, [f"ORG-{n:02d}" for n in range(companies)]
        self.tops = max(1, groups // 25)
        self.middles = max(1, groups * 4 // 25)
        self.leaves = groups - self.middles - self.tops
        self.groups_dn = f"ou=groups,{BASE_DN}"
        self.direct: dict[int, list[int]] = {}  # person → the leaf groups they are a direct member of
        for n in range(users):
            self.direct[n] = sorted(rng.sample(range(self.leaves), rng.randint(0, 3)))
        deep = [k for m in range(5) for k in (m, m + self.middles)]  # ten leaves, five middles, five tops
        self.direct[0] = deep

    # names
    def login(self, n: int) -> str:
        return f"org{n:05d}"

    def company(self, n: int) -> str:
        return self.companies[n % len(self.companies)]

    def ou(self, company: str) -> str:
        return f"ou={company.lower()},{PEOPLE_DN}"

    def group_cn(self, level: str, k: int) -> str:
        return f"{level}{k:03d}"

    def group_dn(self, level: str, k: int) -> str:
        return f"cn={self.group_cn(level, k)},{self.groups_dn}"

    def parent(self, level: str, k: int) -> tuple[str, int] | None:
        if level == "leaf":
            return ("middle", k % self.middles)
        if level == "middle":
            return ("top", k % self.tops)
        return None

    TYPES = {"leaf": ["ro"], "middle": ["ro", "create"], "top": ["rw"]}

    # the directory
    def ldif(self) -> str:
        parts = [f"dn: {self.groups_dn}\nobjectClass: organizationalUnit\nou: groups\n"]
        parts += [
            f"dn: {self.ou(c)}\nobjectClass: organizationalUnit\nou: {c.lower()}\n" for c in self.companies
        ]
        for n in range(self.users):
            parts.append(
                person(self.login(n), "Org", f"Person{n}", customer_id="HR", ou=self.ou(self.company(n)))
            )
        members: dict[tuple[str, int], list[str]] = {}
        for n, leaves in self.direct.items():
            for k in leaves:
                members.setdefault(("leaf", k), []).append(f"uid={self.login(n)},{self.ou(self.company(n))}")
        for level, count in (("leaf", self.leaves), ("middle", self.middles)):
            for k in range(count):
                up = self.parent(level, k)
                members.setdefault(up, []).append(self.group_dn(level, k))
        members.setdefault(("leaf", 0), []).append(self.group_dn("top", 0))  # the cycle
        for level, count in (("leaf", self.leaves), ("middle", self.middles), ("top", self.tops)):
            for k in range(count):
                lines = [
                    f"dn: {self.group_dn(level, k)}",
                    "objectClass: groupOfNames",
                    f"cn: {self.group_cn(level, k)}",
                ]
                lines += [f"member: {m}" for m in members.get((level, k)) or [f"cn=nobody,{self.groups_dn}"]]
                parts.append("\n".join(lines) + "\n")
        return "\n".join(parts)

    def rules(self) -> dict:
        """A company per OU, a customer group (named as the directory group) per directory group."""
        return {
            "NestedGroups": True,
            "CompanyRules": [{"From": "subtree", "Match": self.ou(c), "Company": c} for c in self.companies],
            "GroupRules": [
                {
                    "From": "group",
                    "Match": self.group_dn(level, k),
                    "Group": self.group_cn(level, k),
                    "Types": self.TYPES[level],
                }
                for level, count in (("leaf", self.leaves), ("middle", self.middles), ("top", self.tops))
                for k in range(count)
            ],
        }

    def customer_groups(self) -> list[str]:
        return [
            self.group_cn(level, k)
            for level, count in (("leaf", self.leaves), ("middle", self.middles), ("top", self.tops))
            for k in range(count)
        ]

    # the answer
    def expected(self, n: int) -> tuple[str, dict[str, list[str]]]:
        found: dict[str, list[str]] = {}
        for k in self.direct[n]:
            node: tuple[str, int] | None = ("leaf", k)
            while node is not None and self.group_cn(*node) not in found:
                found[self.group_cn(*node)] = self.TYPES[node[0]]
                node = self.parent(*node) if node != ("top", 0) else ("leaf", 0)  # top 0 ⊂ leaf 0
        return self.company(n), found
