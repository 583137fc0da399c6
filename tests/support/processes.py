"""Helpers for tests and benchmarks that run real processes (django-q2 clusters, gunicorn, `make run`)
against the test database: its URL and environment for a child process, a cluster per lane, a free
loopback port, and waiting for a condition with a deadline (never a bare sleep)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]  # the project: tests/support/processes.py


def database_url() -> str:
    """A DATABASE_URL for the database this test process is using (the test database)."""
    s = connection.settings_dict
    host = s["HOST"] or "localhost"
    host = quote(host, safe="") if host.startswith("/") else host
    port = f":{s['PORT']}" if s.get("PORT") and not host.startswith("%2F") else ""
    auth = quote(s["USER"] or "postgres", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{auth}@{host}{port}/{s['NAME']}"


def process_env(**extra) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "kalix_site.settings"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Cluster:
    """A real django-q2 cluster for one lane, as `make run` starts it."""

    def __init__(self, lane: str, *, workers: int | None = None, **env):
        extra = {"Q_CLUSTER_NAME": lane, **env}
        if workers is not None:
            extra[f"KALIX_{lane.upper()}_WORKERS"] = workers
        self.lane = lane
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=process_env(**extra),
            start_new_session=True,  # its own process group, so we can stop the workers with it
        )

    def wait_alive(self, timeout: float = 30) -> None:
        from lanes.heartbeats import lane_health

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.lane} cluster exited with {self.proc.returncode}")
            if lane_health().get(self.lane, {}).get("alive"):
                return
            time.sleep(0.2)
        raise TimeoutError(f"{self.lane} cluster sent no heartbeat in {timeout}s")

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the sentinel stops its own workers
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_for(predicate, *, timeout: float = 30, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{message} not met within {timeout}s")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_manage(*args, **env):
    """`manage.py <args>` in a subprocess with the test environment plus `env`; the completed process."""
    environ = process_env(**env)
    environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests only
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )
