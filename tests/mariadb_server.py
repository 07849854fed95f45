"""A throwaway MariaDB server (Debian's `mariadb-server`) on a free loopback port, for external tables.

The data directory lives in a temporary directory and is removed with the server. The server runs as the
`mysql` system user when the tests run as root; it listens on 127.0.0.1 only, with a user `helpdesk` that
owns one database per test module.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.stack import free_port

USER, PASSWORD = "helpdesk", "maria-secret"


class MariaDBServer:
    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="helpdesk-mariadb-"))
        self.data, self.socket, self.port = self.base / "data", self.base / "mysqld.sock", free_port()
        self.process: subprocess.Popen | None = None
        self._owner = ["--user=mysql"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("mysql")
            os.chown(self.base, owner.pw_uid, owner.pw_gid)

    def start(self) -> None:
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={self.data}", "--auth-root-authentication-method=normal",
             "--skip-test-db", *self._owner],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.process = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={self.data}", f"--socket={self.socket}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--pid-file={self.base / 'mysqld.pid'}", "--skip-log-bin",
             "--innodb-flush-log-at-trx-commit=0", "--innodb-buffer-pool-size=64M", "--skip-name-resolve",
             f"--log-error={self.base / 'error.log'}", *self._owner],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                with self.cursor(admin=True) as cursor:
                    cursor.execute(f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'")
                    cursor.execute(f"GRANT ALL ON *.* TO '{USER}'@'%'")
                return
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.base / "error.log").read_text(errors="replace")[-2000:]
                    self.stop()
                    raise RuntimeError(f"mariadbd did not start:\n{log}") from None
                time.sleep(0.2)

    @contextlib.contextmanager
    def cursor(self, database: str = "", *, admin: bool = False) -> Iterator[Any]:
        """A cursor (autocommit): as root over the socket, or as `helpdesk` over TCP."""
        import MySQLdb

        if admin:
            connection = MySQLdb.connect(unix_socket=str(self.socket), user="root", database=database)
        else:
            connection = MySQLdb.connect(
                host="127.0.0.1", port=self.port, user=USER, password=PASSWORD, database=database,
                charset="utf8mb4",
            )  # fmt: skip
        connection.autocommit(True)
        try:
            with connection.cursor() as cursor:
                yield cursor
        finally:
            connection.close()

    def create_database(self, name: str) -> str:
        """Create database `name` (dropping one of that name); return its DBI DSN, as the reference writes it."""
        with self.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        return f"DBI:mysql:database={name};host=127.0.0.1;port={self.port}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.base, ignore_errors=True)
