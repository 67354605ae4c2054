"""A throw-away PostgreSQL server for the tests that need one (the store conformance
suite, write-behind, a live run on PostgreSQL): Debian's ``postgresql`` package
(``initdb``/``pg_ctl`` under ``/usr/lib/postgresql/*/bin``), run as the ``postgres`` user
when the tests run as root; the tests are skipped, with the reason in the summary, when
psycopg or the server is missing or it cannot start. Set ``OUTDIAL_TEST_POSTGRES`` to a
connection string to use an existing server instead. ``tests/conftest.py`` offers the
fixture to every module, so each test process starts one server at most."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

PG_ENV = "OUTDIAL_TEST_POSTGRES"


def _initdb() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return found[-1] if found else shutil.which("initdb")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, n: int = 8) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-n:])
    except OSError:
        return "(no log)"


@pytest.fixture(scope="session")
def postgres_server() -> Any:
    """A connection string to a PostgreSQL server for this session (skips if none)."""
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed: pip install 'outdial[postgres]'")
    if os.environ.get(PG_ENV):
        yield os.environ[PG_ENV]
        return
    initdb = _initdb()
    if initdb is None:
        pytest.skip("PostgreSQL server not installed: no initdb under "
                    "/usr/lib/postgresql/*/bin or on PATH (Debian: apt-get install "
                    f"postgresql), and {PG_ENV} is not set")
    bindir = Path(initdb).parent
    as_user: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="outdial-pg-"))  # short: the socket path must fit
    if os.geteuid() == 0:  # postgres refuses to run as root
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(tmp)
            pytest.skip("tests run as root and there is no 'postgres' user to run the "
                        "PostgreSQL server as")
        runuser = shutil.which("runuser")
        if runuser is None:
            shutil.rmtree(tmp)
            pytest.skip("tests run as root and runuser is missing, so the PostgreSQL "
                        "server cannot be started as the 'postgres' user")
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
        as_user = [runuser, "-u", "postgres", "--"]
    data, log = tmp / "data", tmp / "server.log"
    done = subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "postgres",
                           "-E", "UTF8", "--locale=C", "--no-sync"],
                          capture_output=True, text=True, timeout=120)
    if done.returncode:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.skip(f"initdb ({initdb}) failed: "
                    + " | ".join((done.stderr or done.stdout).strip().splitlines()[-5:]))
    port = free_port()
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {tmp} -c max_connections=40"
    pg_ctl = str(bindir / "pg_ctl")
    done = subprocess.run([*as_user, pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60",
                           "-o", opts, "start"], capture_output=True, text=True, timeout=120)
    conninfo = f"host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout=5"
    ready = False
    if done.returncode == 0:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                psycopg.connect(conninfo).close()
                ready = True
                break
            except psycopg.OperationalError:
                time.sleep(0.2)
    try:
        if not ready:
            pytest.skip(f"the PostgreSQL server ({pg_ctl}) did not start: {_tail(log)}")
        yield conninfo
    finally:
        stop = subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "-w",
                               "-t", "20", "stop"], capture_output=True, timeout=60)
        if stop.returncode and (data / "postmaster.pid").exists():
            with contextlib.suppress(OSError, ValueError, IndexError):
                os.kill(int((data / "postmaster.pid").read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
