"""The embedded PostgreSQL starts once when several processes ask for it at the same moment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kalix_site.testing import ROOT

SCRIPT = """
import sys, pathlib
from kalix_site.embedded_db import database_settings
import psycopg
s = database_settings(pathlib.Path(sys.argv[1]))
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
