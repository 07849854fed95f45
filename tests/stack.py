"""Run a command against a throwaway PostgreSQL cluster on a free loopback port.

    python -m tests.stack pytest …

The cluster lives in a temporary directory, is started with `pg_ctl`, and is stopped and removed when the
command ends, whatever its outcome; the command's exit status is returned. DATABASE_URL points at it.
PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` system user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_cluster_owner(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


class PostgresCluster:
    """A throwaway cluster on a free loopback port: `start()`, `stop()` (and start again), `remove()`."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="helpdesk-pg-"))
        self.data, self.port = self.base / "data", free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}"
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
        self._run(
            [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
             "--locale=C.UTF-8"]
        )  # fmt: skip

    def _run(self, command: list[str], *, as_owner: bool = True, check: bool = True) -> None:
        command = _as_cluster_owner(command) if as_owner else command
        subprocess.run(command, check=check, stdout=subprocess.DEVNULL, cwd=self.base)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
            "-c shared_buffers=512MB -c max_wal_size=4GB"
        )
        self._run(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.base / "log"), "-w", "start"]
        )  # fmt: skip

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(
                [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"], check=False
            )

    def create_database(self, name: str) -> str:
        """Create database `name`; return its URL."""
        self._run(
            [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
            as_owner=False,
        )
        return f"{self.url}/{name}"

    @contextlib.contextmanager
    def connect(self, name: str) -> Iterator[Any]:
        """A cursor on database `name` (autocommit), closed afterwards."""
        import psycopg2

        connection = psycopg2.connect(f"{self.url}/{name}")
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                yield cursor
        finally:
            connection.close()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@contextlib.contextmanager
def postgresql_cluster() -> Iterator[str]:
    """Start a cluster with a database `helpdesk`, yield its base URL, then remove it."""
    cluster = PostgresCluster()
    try:
        cluster.start()
        cluster.create_database("helpdesk")
        yield cluster.url
    finally:
        cluster.remove()


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    with postgresql_cluster() as url:
        env = {**os.environ, "DATABASE_URL": f"{url}/helpdesk", "HELPDESK_PG_URL": url}
        return subprocess.run(argv, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
