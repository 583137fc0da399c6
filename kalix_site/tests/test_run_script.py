"""scripts/run.py (what `make run` starts): refuses to start over a running instance, and stops
everything it started, in order (workers, web, database), within 15 s of Ctrl-C."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from tests.support.processes import ROOT, free_port, wait_for


def test_refuses_a_port_in_use_and_starts_nothing():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "scripts/run.py"],
            cwd=ROOT,
            env={"KALIX_PORT": str(port), "KALIX_HOST": "127.0.0.1", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert "already in use" in result.stdout
    assert "starting" not in result.stdout  # no web server, lane or carrier was started


def alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def in_groups(groups: set[int]) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) in groups and alive(proc):
                found.append(proc)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
    return found


STOP_DB = "from pathlib import Path; from kalix_site.embedded_db import stop; print(stop(Path('.')))"
# A task that tells us it started, then keeps its worker (and a shell and a `sleep` of its own) busy.
LONG_TASK = (
    "from django_q.tasks import async_task; async_task('os.system', 'touch {marker} && sleep 120', cluster='live')"
)


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


@pytest.mark.cluster
def test_ctrl_c_stops_workers_then_web_then_database_and_leaves_no_process(tmp_path):
    """A live worker is in the middle of a long task (with a shell child of its own) when Ctrl-C comes."""
    pgdata, started = tmp_path / "pg", tmp_path / "task-started"
    port, carrier_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        DEBUG="1",
        KALIX_PGDATA=str(pgdata),  # a database of its own: stopping it must not stop the test's
        KALIX_HOST="127.0.0.1",
        KALIX_PORT=str(port),
        KALIX_SIMCARRIER_URL=f"http://127.0.0.1:{carrier_port}",
        WEB_CONCURRENCY="2",
    )

    def python(*argv):
        result = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    python("manage.py", "prepare", "--no-demo")
    python("manage.py", "shell", "-c", LONG_TASK.format(marker=started))
    # run.py starts the database itself (make run's `prepare` leaves it running; a bare run.py must not need it).
    assert python("-c", STOP_DB).strip() == "True"

    log = tmp_path / "run.log"
    with open(log, "w") as out:
        run = subprocess.Popen(
            [sys.executable, "scripts/run.py"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # as make's process group: Ctrl-C reaches every process in it
        )
    tree, groups = [], set()
    try:
        wait_for(lambda: run.poll() is not None or healthy(port), timeout=120, message="run.py healthy")
        assert run.poll() is None, log.read_text()
        wait_for(started.exists, timeout=30, message="the long task started on a live worker")
        tree = [psutil.Process(run.pid), *psutil.Process(run.pid).children(recursive=True)]
        groups = {os.getpgid(p.pid) for p in tree}
        postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))
        assert any("sleep" in p.name() for p in tree)  # the task's grandchild is part of what must stop

        os.killpg(run.pid, signal.SIGINT)
        began = time.monotonic()
        try:
            run.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"run.py still running 20 s after Ctrl-C:\n{log.read_text()[-3000:]}")
        took = time.monotonic() - began
        output = log.read_text()

        assert took < 15, f"stopped in {took:.1f}s"
        assert run.returncode == 0, output[-3000:]
        assert [p for p in tree if alive(p)] == []
        assert in_groups(groups) == []
        assert not alive(postmaster)
        assert "Traceback" not in output, output
        stops = ["[run] workers stopped", "[run] web stopped", "[run] embedded PostgreSQL stopped", "[run] stopped"]
        positions = [output.find(line) for line in stops]
        assert -1 not in positions and positions == sorted(positions), output[-3000:]
    finally:
        for proc in [*tree, *in_groups(groups)]:
            if alive(proc):
                proc.kill()
        if (pgdata / "postmaster.pid").exists():
            subprocess.run([sys.executable, "-c", STOP_DB], cwd=ROOT, env=env, timeout=60)


def test_the_web_access_log_writes_no_query_string_nor_referer():
    """Query strings carry search terms (patient names, numbers); the Referer repeats them. gunicorn's
    default access format logs both (its %(r)s request line, %(q)s query and %(f)s referer)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "kalix_run", Path(__file__).resolve().parents[2] / "scripts" / "run.py"
    )
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    assert "%(U)s" in run.ACCESS_LOG_FORMAT
    for atom in ("%(r)s", "%(q)s", "%(f)s", "%(a)s"):  # request line, query, referer, user agent
        assert atom not in run.ACCESS_LOG_FORMAT
    source = Path(spec.origin).read_text()
    assert '"--access-logformat",\n                ACCESS_LOG_FORMAT' in source
