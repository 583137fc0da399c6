"""Start the whole system in the foreground: gunicorn and one django-q2 cluster per lane.

Ctrl-C (or SIGTERM) stops every child cleanly, waits for them, then stops the embedded PostgreSQL
if this script is using it. Prints the URLs and demo logins once /healthz says every lane is alive.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def start(name: str, argv: list[str], env: dict) -> subprocess.Popen:
    print(f"[run] starting {name}: {' '.join(argv)}", flush=True)
    return subprocess.Popen(argv, cwd=ROOT, env=env)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


def wait_healthy(base: str, children: dict, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    last = {}
    while time.monotonic() < deadline:
        for name, proc in children.items():
            if proc.poll() is not None:
                raise SystemExit(f"[run] {name} exited with {proc.returncode} during start-up")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:  # noqa: S310 (our own http URL)
                return json.load(response)
        except urllib.error.HTTPError as exc:
            last = json.load(exc)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"[run] not healthy after {timeout:.0f}s: {last}")


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    web_workers = os.environ.get("WEB_CONCURRENCY", "3")
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "kalix_site.settings")
    env.setdefault("KALIX_PUBLIC_URL", f"http://{host}:{port}")  # where the simulated carrier reports
    started = time.monotonic()
    if port_in_use(host, int(port)):
        # Another `make run` (or something else) serves there; starting ours would fail to bind and,
        # on the way out, stop the database the other one is using.
        print(f"[run] {host}:{port} is already in use: is Kalix already running? Stop it, or set PORT.", flush=True)
        return 1

    children = {
        "web": start(
            "web",
            [
                PYTHON,
                "-m",
                "gunicorn",
                "kalix_site.wsgi",
                "--bind",
                f"{host}:{port}",
                "--workers",
                web_workers,
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "10",
            ],
            env,
        ),
    }
    # The simulated SMS/fax carrier, posting delivery reports back to our webhooks (docs/messaging.md).
    children["carrier"] = start("carrier", [PYTHON, "manage.py", "simcarrier"], env)
    for lane in ("live", "bulk"):
        children[f"lane {lane}"] = start(
            f"lane {lane}", [PYTHON, "manage.py", "qcluster"], {**env, "Q_CLUSTER_NAME": lane}
        )

    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        if stopping:
            return
        stopping = True
        print("\n[run] stopping…", flush=True)
        for proc in children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    base = f"http://{host}:{port}"
    try:
        health = wait_healthy(base, children)
    except SystemExit as exc:
        print(exc, flush=True)
        stop(None, None)
        health = None
    if health:
        since_make = ""
        if os.environ.get("KALIX_MAKE_STARTED"):
            since_make = f", {time.time() - float(os.environ['KALIX_MAKE_STARTED']):.1f}s after `make run` began"
        lanes = ", ".join(f"{name}: {info['workers']} workers" for name, info in health["lanes"].items())
        print(
            f"""
==========================================================================
 Kalix is ready: services up in {time.monotonic() - started:.1f}s{since_make}
 Lanes: {lanes}

   Staff app        {base}/
   Django admin     {base}/admin/
   Queue dashboard  {base}/admin/lanes/
   Status page      {base}/status/
   API docs         {base}/api/docs/
   Health           {base}/healthz

 Demo logins (password: kalix-demo)
   dana.practitioner, rita.reception  Harbour Dietetics staff
   pat.physio, sam.reception          Summit Physiotherapy staff
   max.manager                        manager in both clinics (clinic switcher)
   sue.support                        Support: status page admin
   oscar.ops                          Operations: queues and re-indexes
   admin                              superuser
 Ctrl-C stops everything.
==========================================================================
""",
            flush=True,
        )

    deadline = None
    while any(proc.poll() is None for proc in children.values()):
        if not stopping:
            for name, proc in children.items():
                if proc.poll() is not None:
                    print(f"[run] {name} exited with {proc.returncode}; stopping the rest", flush=True)
                    stop(None, None)
                    break
        if stopping and deadline is None:
            deadline = time.monotonic() + 30
        if deadline and time.monotonic() > deadline:
            for proc in children.values():
                if proc.poll() is None:
                    proc.kill()
        time.sleep(0.2)

    if not os.environ.get("DATABASE_URL") and os.environ.get("KALIX_KEEP_DB") != "1":
        sys.path.insert(0, str(ROOT))
        from kalix_site.embedded_db import stop as stop_db

        if stop_db(ROOT):
            print("[run] embedded PostgreSQL stopped", flush=True)
    print("[run] stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
