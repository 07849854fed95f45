"""The search benchmark's stage: the session directory, 20,000 customer users in PostgreSQL, three sources.

python -m tests.stack python -m tests.bench_search      (make bench-search)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.ldap_server import PARTNERS_DN, PEOPLE_DN, SERVICE_DN, SERVICE_PW, DirectoryServer, people_ldif

LDAP_MAP = [
    ["UserFirstname", "Firstname", "givenName", 1, 1, "var"],
    ["UserLastname", "Lastname", "sn", 1, 1, "var"],
    ["UserLogin", "Username", "uid", 1, 1, "var"],
    ["UserEmail", "Email", "mail", 1, 1, "var"],
    ["UserCustomerID", "CustomerID", "departmentNumber", 0, 1, "var"],
    ["UserCustomerIDs", "CustomerIDs", "businessCategory", 1, 0, "var"],
]


def ldap_source(uri: str, base_dn: str, name: str) -> dict:
    return {
        "Name": name, "Module": "LDAP", "CustomerKey": "uid", "CustomerID": "departmentNumber",
        "Params": {"Host": uri, "BaseDN": base_dn, "SSCOPE": "one", "UserDN": SERVICE_DN, "UserPw": SERVICE_PW,
                   "AlwaysFilter": "(objectClass=inetOrgPerson)"},
        "CustomerUserListFields": ["givenName", "sn", "mail"], "CustomerUserSearchFields": ["uid", "givenName", "sn", "mail"],
        "CustomerUserPostMasterSearchFields": ["mail"], "CustomerUserNameFields": ["givenName", "sn"],
        "CustomerUserValidFilter": "(!(employeeType=disabled))", "Map": LDAP_MAP,
    }  # fmt: skip


def toml(config: dict) -> str:
    """The config as TOML: JSON values are valid TOML values for strings, numbers and arrays."""
    lines = []
    for alias, source in config.items():
        lines.append(f"[{alias}]")
        for key, value in source.items():
            if key == "Params":
                continue
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
        lines.append(f"[{alias}.Params]")
        for key, value in source["Params"].items():
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def main() -> int:
    from helpdesk.config import DEFAULT_CUSTOMER_USER_SOURCE

    server = DirectoryServer()
    server.start()
    try:
        server.load(people_ldif())
        config = {
            "CustomerUser": DEFAULT_CUSTOMER_USER_SOURCE,
            "CustomerUser1": ldap_source(server.ldap_uri, PEOPLE_DN, "People"),
            "CustomerUser2": ldap_source(server.ldap_uri, PARTNERS_DN, "Partners"),
        }
        path = Path(tempfile.mkdtemp(prefix="helpdesk-bench-")) / "helpdesk.toml"
        path.write_text(toml(config), encoding="utf-8")
        env = {**os.environ, "HELPDESK_CONFIG": str(path), "DJANGO_SECRET_KEY": "benchmark-only"}
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
        subprocess.run([*manage, "load_bench_customer_users", "--count", "20000"], env=env, check=True)
        for sources, label in (
            (["CustomerUser"], "DB only (20,000 users)"),
            (["CustomerUser1"], "LDAP only (2,100 entries)"),
            (["CustomerUser", "CustomerUser1", "CustomerUser2"], "DB + LDAP + LDAP"),
        ):
            subprocess.run(
                [*manage, "bench_search", "--sources", *sources, "--label", label], env=env, check=True
            )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
