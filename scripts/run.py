"""Start the whole system in the foreground, and stop all of it on Ctrl-C: a small supervisor.

Start: the embedded PostgreSQL (unless DATABASE_URL is set), then gunicorn, the simulated carrier and
one django-q2 cluster per lane, each child in a process group of its own. Prints the URLs and demo
logins once /healthz says every lane is alive.

Stop (SIGINT, SIGTERM, or any child exiting): the workers (the lanes' clusters) first, then the
simulated carrier, then the web server, then the embedded database, so nothing ever finds what it
talks to gone (workers send to the carrier, the carrier reports to web, all use the database). Each child
gets SIGTERM (django-q2 lets its workers finish their task, gunicorn its requests) and, after a grace,
SIGKILL for its whole process group and every descendant it had: a worker stuck in a task, a task's own
child processes. The default graces keep the whole stop under 15 s; a second Ctrl-C skips them.

Why a group per child: Ctrl-C in a terminal signals every process of the foreground group at once, so
web, workers and database would stop in no order. Here only this supervisor (and make) get it.
"""

import contextlib
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
from urllib.parse import urlsplit

import psutil

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
LANES = ("live", "bulk")

# The path without its query string and no Referer: search terms (patient names, phone numbers) ride in
# query strings, and gunicorn's default format would write them to the log.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(L)s'


def env_seconds(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    try:
        seconds = float(value) if value.strip() else default
    except ValueError:
        raise SystemExit(f"[run] {name}={value!r} is not a number of seconds") from None
    if seconds < 0:
        raise SystemExit(f"[run] {name}={value!r} must not be negative")
    return seconds


class Child:
    """One process we started, the leader of its own process group."""

    def __init__(self, name: str, argv: list[str], env: dict):
        print(f"[run] starting {name}: {' '.join(argv)}", flush=True)
        self.name = name
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True)

    def running(self) -> bool:
        return self.proc.poll() is None

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def terminate(self) -> None:
        if self.running():
            self.proc.send_signal(signal.SIGTERM)

    def kill(self, descendants: list[psutil.Process]) -> list[psutil.Process]:
        """SIGKILL whatever is left of its group and of the descendants it had; returns those still alive."""
        survivors = [proc for proc in descendants if alive(proc)]
        with contextlib.suppress(ProcessLookupError):  # the group is empty
            os.killpg(self.proc.pid, signal.SIGKILL)
        for proc in survivors:  # in case one left the group (setsid)
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        self.proc.wait()
        return survivors


def alive(proc: psutil.Process) -> bool:
    """Running, not a zombie waiting for its (new) parent to reap it: a zombie has already exited."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class Supervisor:
    def __init__(self, *, worker_grace: float, web_grace: float):
        self.worker_grace = worker_grace
        self.web_grace = web_grace
        self.children: dict[str, Child] = {}
        self.stop_requested = False
        self.hurry = False

    def on_signal(self, signum, frame):
        if self.stop_requested:
            self.hurry = True  # a second Ctrl-C: no more waiting for graceful exits
            print("\n[run] stopping now", flush=True)
            return
        self.stop_requested = True
        print(f"\n[run] {signal.Signals(signum).name}: stopping…", flush=True)

    def start(self, name: str, argv: list[str], env: dict) -> None:
        self.children[name] = Child(name, argv, env)

    def exited(self) -> Child | None:
        return next((child for child in self.children.values() if not child.running()), None)

    def stop(self, names: list[str], grace: float, what: str) -> None:
        """SIGTERM to each, wait up to `grace` for them to exit, then kill what is left of them."""
        children = [self.children[name] for name in names if name in self.children]
        began = time.monotonic()
        descendants = {child.name: child.descendants() for child in children}
        for child in children:
            child.terminate()
        deadline = began + grace
        while time.monotonic() < deadline and not self.hurry and any(c.running() for c in children):
            time.sleep(0.1)
        for child in children:
            still_running = child.running()
            left = child.kill(descendants[child.name])
            if still_running:
                print(f"[run] {child.name} still running after {time.monotonic() - began:.1f}s: killed", flush=True)
            elif left:
                print(f"[run] {child.name} exited but left {len(left)} processes behind: killed", flush=True)
        print(f"[run] {what} stopped ({time.monotonic() - began:.1f}s)", flush=True)

    def stop_all(self) -> None:
        """Workers, then the carrier they send to (it posts its reports to web), then web."""
        self.stop([name for name in self.children if name.startswith("lane ")], self.worker_grace, "workers")
        # The simulated carrier keeps nothing worth waiting for (SIGTERM ends it at once); one second
        # keeps the default graces (5 + 1 + 3, and 4 for the database) within the 15 s we promise.
        self.stop(["carrier"], 1.0, "carrier")
        self.stop(["web"], self.web_grace, "web")


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


def wait_healthy(base: str, supervisor: Supervisor, timeout: float = 120) -> dict | None:
    """/healthz's answer once every lane is alive; None if a stop was asked for first."""
    deadline = time.monotonic() + timeout
    last = {}
    while time.monotonic() < deadline:
        if supervisor.stop_requested:
            return None
        child = supervisor.exited()
        if child is not None:
            raise SystemExit(f"[run] {child.name} exited with {child.proc.returncode} during start-up")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:  # noqa: S310 (our own http URL)
                return json.load(response)
        except urllib.error.HTTPError as exc:
            last = json.load(exc)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"[run] not healthy after {timeout:.0f}s: {last}")


def print_ready(base: str, health: dict, started: float) -> None:
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


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from kalix_site import embedded_db
    from kalix_site.env import ConfigurationError, Environment

    env_vars = Environment()  # strict, and the old names HOST and PORT still read with a warning
    try:
        host = env_vars.str("KALIX_HOST", "127.0.0.1", old="HOST")
        port = env_vars.int("KALIX_PORT", 8000, old="PORT")
        web_workers = env_vars.int("WEB_CONCURRENCY", 3)
        keep_db = env_vars.bool("KALIX_KEEP_DB", False)
    except ConfigurationError as exc:
        raise SystemExit(f"[run] {exc}") from None
    supervisor = Supervisor(
        worker_grace=env_seconds("KALIX_RUN_WORKER_GRACE_SECONDS", 5),
        web_grace=env_seconds("KALIX_RUN_WEB_GRACE_SECONDS", 3),
    )
    db_stop_timeout = int(env_seconds("KALIX_RUN_DB_STOP_SECONDS", 4)) or 1
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "kalix_site.settings")
    if not {"KALIX_PUBLIC_URL", "STATUSPAGE_URL"} & env.keys():  # its old name, still read by settings
        env["KALIX_PUBLIC_URL"] = f"http://{host}:{port}"  # where the simulated carrier reports
    carrier = urlsplit(env.get("KALIX_SIMCARRIER_URL") or "http://127.0.0.1:8025")
    started = time.monotonic()
    if port_in_use(host, port):
        # Another `make run` (or something else) serves there; starting ours would fail to bind and,
        # on the way out, stop the database the other one is using.
        print(
            f"[run] {host}:{port} is already in use: is Kalix already running? Stop it, or set KALIX_PORT.", flush=True
        )
        return 1

    signal.signal(signal.SIGINT, supervisor.on_signal)
    signal.signal(signal.SIGTERM, supervisor.on_signal)

    embedded = not os.environ.get("DATABASE_URL")
    if embedded:
        print(f"[run] starting the embedded PostgreSQL in {embedded_db.data_dir(ROOT)}", flush=True)
        embedded_db.start(ROOT)

    failed = False
    if not supervisor.stop_requested:
        supervisor.start(
            "web",
            [
                PYTHON,
                "-m",
                "gunicorn",
                "kalix_site.wsgi",
                "--bind",
                f"{host}:{port}",
                "--workers",
                str(web_workers),
                "--access-logfile",
                "-",
                "--access-logformat",
                ACCESS_LOG_FORMAT,
                # gunicorn's own SIGKILL of its workers comes before ours of the whole group.
                "--graceful-timeout",
                f"{max(1, int(supervisor.web_grace) - 1)}",
                # Its control socket is one path per user ($HOME/.gunicorn/gunicorn.ctl): a second
                # instance on the machine (another checkout, a test) would take it over.
                "--no-control-socket",
            ],
            env,
        )
        # The simulated SMS/fax carrier, posting delivery reports back to our webhooks (docs/messaging.md).
        supervisor.start(
            "carrier",
            [PYTHON, "manage.py", "simcarrier", "--host", carrier.hostname, "--port", str(carrier.port or 80)],
            env,
        )
        for lane in LANES:
            supervisor.start(f"lane {lane}", [PYTHON, "manage.py", "qcluster"], {**env, "Q_CLUSTER_NAME": lane})

        base = f"http://{host}:{port}"
        try:
            health = wait_healthy(base, supervisor)
        except SystemExit as exc:
            print(exc, flush=True)
            health, failed = None, True
        if health:
            print_ready(base, health, started)

        while not (supervisor.stop_requested or failed):
            child = supervisor.exited()
            if child is not None:
                print(f"[run] {child.name} exited with {child.proc.returncode}; stopping the rest", flush=True)
                failed = True
                break
            time.sleep(0.2)
        supervisor.stop_all()

    if embedded and not keep_db:
        began = time.monotonic()
        if embedded_db.stop(ROOT, timeout=db_stop_timeout):
            print(f"[run] embedded PostgreSQL stopped ({time.monotonic() - began:.1f}s)", flush=True)
    print("[run] stopped", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
