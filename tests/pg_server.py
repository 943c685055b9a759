"""A real PostgreSQL server for the tests, started by them: Debian's postgresql package
(``initdb`` in a temporary folder, ``postgres`` on a free loopback port), as an unprivileged
user when the tests run as root (PostgreSQL refuses to run as root).

Fixtures (conftest.py imports them, so the session has one server):
- ``postgres_server`` (session): the running server; ``.new_database()`` gives the URL of a
  fresh empty database on it;
- ``postgres_url``: a fresh empty database for one test.
Setup (scripts/apt-packages.txt) installs the package; without it these tests fail (under CI)
or skip with the reason.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

USER = "docchat"  # the database superuser initdb makes (trust authentication on loopback only)


def postgres_bin() -> Path | None:
    """The folder of Debian's PostgreSQL server programs (newest version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="docchat-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None
        # PostgreSQL will not run as root: as root, its files belong to an unprivileged user.
        self.as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.folder, "nobody")

    def start(self) -> "PostgresServer":
        subprocess.run([*self.as_user, str(self.bindir / "initdb"), "-D", str(self.data), "-U", USER,
                        "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                       check=True, capture_output=True)
        log = open(self.folder / "server.log", "wb")
        if self.as_user:
            shutil.chown(self.folder / "server.log", "nobody")
        self.proc = subprocess.Popen(
            [*self.as_user, str(self.bindir / "postgres"), "-D", str(self.data), "-h", "127.0.0.1",
             "-p", str(self.port), "-k", str(self.folder), "-c", "fsync=off", "-c", "max_connections=200"],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("PostgreSQL did not start:\n" + self.log_tail())
                time.sleep(0.1)
        self._wait_accepting()
        return self

    def _wait_accepting(self) -> None:
        import pg8000.dbapi
        deadline = time.monotonic() + 60
        while True:
            try:
                pg8000.dbapi.connect(user=USER, host="127.0.0.1", port=self.port, database="postgres").close()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def log_tail(self) -> str:
        try:
            return (self.folder / "server.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+pg8000://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database on this server."""
        import pg8000.dbapi
        name = "t_" + uuid.uuid4().hex[:12]
        conn = pg8000.dbapi.connect(user=USER, host="127.0.0.1", port=self.port, database="postgres")
        try:
            conn.autocommit = True
            conn.cursor().execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url(name)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: PostgreSQL's "smart" shutdown... then fast
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    bindir = postgres_bin()
    if bindir is None:
        reason = "needs Debian's postgresql package (scripts/setup.sh installs it)"
        if os.environ.get("DOCCHAT_REQUIRE_SHARED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    server = PostgresServer(bindir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh empty database for this test (``postgresql+pg8000://...``)."""
    return postgres_server.new_database()
