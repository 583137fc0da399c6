"""Cached bodies are invalidated across processes: real gunicorn workers, each with its own cache."""

import json
import subprocess
import sys
import time
import urllib.request

import pytest

from statuspage import services, states
from tests.support.processes import ROOT, free_port, process_env, wait_for


@pytest.fixture
def gunicorn(transactional_db):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "kalix_site.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--worker-class", "sync", "--log-level", "warning"],
        cwd=ROOT,
        env=process_env(KALIX_STATUSPAGE_GENERATION_CHECK_SECONDS="0.5", KALIX_STATUSPAGE_CACHE_SECONDS="3600"),
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get_ok(base + "/api/v2/status.json"), timeout=30, message="gunicorn answering")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _get_ok(url):
    try:
        return urllib.request.urlopen(url, timeout=2).status == 200  # noqa: S310 - loopback only
    except OSError:
        return False


def unresolved(base) -> list[str]:
    with urllib.request.urlopen(base + "/api/v2/incidents/unresolved.json", timeout=5) as response:  # noqa: S310
        return [i["name"] for i in json.load(response)["incidents"]]


def test_a_write_in_one_process_reaches_every_worker_cache(gunicorn):
    from statuspage.models import Component

    email = Component.objects.create(name="Email")
    for _ in range(20):  # every worker has cached the empty list by now
        assert unresolved(gunicorn) == []
    services.incident_open(
        name="Email delays", status=states.INVESTIGATING, body="Looking.", components={email: "degraded_performance"}
    )  # written by this (test) process, which none of the workers share a cache with
    time.sleep(0.6)  # the generation check interval
    assert all(unresolved(gunicorn) == ["Email delays"] for _ in range(20))
