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

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_cluster_owner(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@contextlib.contextmanager
def postgresql_cluster() -> Iterator[str]:
    """Start a cluster, yield its base URL (`postgres://postgres@127.0.0.1:PORT`), then remove it."""
    base = Path(tempfile.mkdtemp(prefix="helpdesk-pg-"))
    data, port = base / "data", free_port()
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(base, owner.pw_uid, owner.pw_gid)
    run = {"check": True, "stdout": subprocess.DEVNULL, "cwd": base}
    try:
        subprocess.run(
            _as_cluster_owner(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            **run,
        )
        options = (
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200 -c shared_buffers=512MB -c max_wal_size=4GB"
        )
        subprocess.run(
            _as_cluster_owner(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(base / "log"),
                    "-w",
                    "start",
                ]
            ),
            **run,
        )
        subprocess.run(
            [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "helpdesk"],
            **run,
        )
        yield f"postgres://postgres@127.0.0.1:{port}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_cluster_owner([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                stdout=subprocess.DEVNULL,
                cwd=base,
                check=False,
            )
        shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    with postgresql_cluster() as url:
        env = {**os.environ, "DATABASE_URL": f"{url}/helpdesk", "HELPDESK_PG_URL": url}
        return subprocess.run(argv, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
