"""Helpers for tests that run real processes (django-q2 clusters, gunicorn) against the test database."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


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


def restore_migration_data() -> int:
    """Run the forward function of every data migration of our apps again, and upsert the registered
    schedules as every migrate does; returns how many migration functions ran.

    A transactional test ends by flushing every table, and with them the rows migrations wrote (staff
    groups and their permissions, lane rows) and the schedules. Each of those functions is idempotent
    (get_or_create / update_or_create / grant), so running them again restores exactly that data.
    """
    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.operations import RunPython

    from lanes.schedules import upsert_schedules

    ours = {"lanes", "clinics", "messaging", "billing", "statuspage"}
    loader = MigrationLoader(None, ignore_no_migrations=True)
    plan = []  # every migration once, each after its dependencies
    for leaf in loader.graph.leaf_nodes():
        plan += [node for node in loader.graph.forwards_plan(leaf) if node not in plan]
    ran = 0
    for app_label, name in plan:
        if app_label in ours:
            for operation in loader.disk_migrations[app_label, name].operations:
                if isinstance(operation, RunPython):
                    operation.code(apps, None)
                    ran += 1
    upsert_schedules()
    return ran
