"""Shared pieces for benchmarks: a fresh database per scenario, timing, the table and BENCH line."""

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def use_bench_database(name: str) -> str:
    """Point this process (and the processes it starts) at a fresh database bench_<name>; return its URL.

    Must run before django.setup().
    """
    import psycopg

    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
    if os.environ.get("DATABASE_URL"):
        base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
        admin_url = base + "/postgres"
    else:
        from kalix_site.embedded_db import start

        s = start(ROOT)
        from urllib.parse import quote

        base = f"postgres://postgres@{quote(s['HOST'], safe='')}"
        admin_url = base + "/postgres"
    db = f"bench_{name}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')
    url = f"{base}/{db}"
    os.environ["DATABASE_URL"] = url
    return url


def setup_django(name: str) -> str:
    url = use_bench_database(name)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    return url


@contextmanager
def timed(results: dict, key: str):
    start = time.perf_counter()
    yield
    results[key] = time.perf_counter() - start


def print_table(title: str, rows: list[tuple], headers: tuple) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join("-" * w for w in widths)
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=False)))
    print(line)
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)))


def bench_line(payload: dict) -> None:
    print("BENCH " + json.dumps(payload), flush=True)
