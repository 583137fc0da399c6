"""`make bench SCENARIO=statusapi`: the cached status API and home page under load, against gunicorn.

Starts gunicorn (2 workers x 4 threads) on 127.0.0.1 over a fresh bench database with demo data and a
few incidents, then loads /api/v2/summary.json and /status/ from a separate load process over loopback
with 16 connections: wrk when installed (apt-get install wrk), else a small Python load generator.
Every run is bounded in time (BENCH_SECONDS per URL) and only ever talks to 127.0.0.1.
"""

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import ROOT, bench_line, print_table, setup_django
from tests.support.processes import free_port

CONCURRENCY = 16
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "2"))
THREADS = int(os.environ.get("BENCH_GUNICORN_THREADS", "4"))
WORKER_CLASS = os.environ.get("BENCH_GUNICORN_CLASS", "gthread")

WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("BENCH_P95_US %d\\n", latency:percentile(95)))
  io.write(string.format("BENCH_ERRORS %d\\n", summary.errors.status + summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def seed() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from statuspage import demo, services, states
    from statuspage.models import Component

    demo.load()
    email = Component.objects.get(name="Email")
    for n in range(5):
        incident = services.incident_open(
            name=f"Past incident {n}",
            status=states.INVESTIGATING,
            body="Looking into **it**.",
            components={email: states.DEGRADED_PERFORMANCE},
            notify_subscribers=False,
            started_at=timezone.now() - timedelta(days=10 + n * 7),
        )
        services.incident_post_update(
            incident=incident,
            status=states.RESOLVED,
            body="Fixed.",
            components={email: states.OPERATIONAL},
            notify_subscribers=False,
            display_at=incident.started_at + timedelta(hours=3),
        )
    services.incident_open(
        name="Fax delays",
        status=states.IDENTIFIED,
        body="A carrier is slow.",
        components={Component.objects.get(name="Fax"): states.PARTIAL_OUTAGE},
        notify_subscribers=False,
    )


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"gunicorn did not answer {url}")


def run_wrk(url: str) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONCURRENCY}", f"-d{SECONDS}s", "--timeout", "5s", "-s", script.name, url],
        capture_output=True,
        text=True,
        timeout=SECONDS + 30,
        check=True,
    ).stdout
    Path(script.name).unlink()
    return {
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p95_ms": int(re.search(r"BENCH_P95_US (\d+)", out).group(1)) / 1000,
        "errors": int(re.search(r"BENCH_ERRORS (\d+)", out).group(1)),
        "tool": "wrk",
    }


def run_python_load(url: str) -> dict:
    """Fallback: a separate process with CONCURRENCY keep-alive connections, for SECONDS."""
    code = r"""
import http.client, json, sys, threading, time
from urllib.parse import urlsplit
url, conc, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
parts = urlsplit(url)
lat, errors, stop = [], [0], time.monotonic() + secs
def worker():
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    mine = []
    while time.monotonic() < stop:
        t = time.perf_counter()
        try:
            conn.request("GET", parts.path)
            r = conn.getresponse(); r.read()
            if r.status != 200: errors[0] += 1
        except Exception:
            errors[0] += 1; conn.close(); conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
            continue
        mine.append(time.perf_counter() - t)
    lat.extend(mine)
threads = [threading.Thread(target=worker) for _ in range(conc)]
start = time.monotonic()
[t.start() for t in threads]; [t.join() for t in threads]
lat.sort()
print(json.dumps({"requests": len(lat), "rps": len(lat) / (time.monotonic() - start),
                  "p95_ms": lat[int(len(lat) * .95)] * 1000,
                  "errors": errors[0], "tool": "python"}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code, url, str(CONCURRENCY), str(SECONDS)],
        capture_output=True,
        text=True,
        timeout=SECONDS + 30,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by gunicorn's master and workers."""
    import psutil

    parent = psutil.Process(pid)
    total = 0.0
    for proc in [parent, *parent.children(recursive=True)]:
        times = proc.cpu_times()
        total += times.user + times.system
    return total


def load(url: str, server_pid: int) -> dict:
    """Load `url`; also measure CPU per request of the server and of the load generator.

    The machine is shared, so req/s moves with other work; CPU per request does not (much), and gives
    what 2 dedicated cores would serve: 2 / (server + load generator CPU per request).
    """
    server_before, children_before = cpu_seconds(server_pid), resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run_wrk(url) if shutil.which("wrk") else run_python_load(url)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = cpu_seconds(server_pid) - server_before
    load_cpu = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    result["server_us"] = server_cpu / result["requests"] * 1e6
    result["load_us"] = load_cpu / result["requests"] * 1e6
    result["projected_rps"] = 2e6 / (result["server_us"] + result["load_us"])
    return result


def main() -> None:
    setup_django("statusapi")
    seed()
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "kalix_site.settings", "KALIX_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "kalix_site.wsgi",
            "--bind", f"127.0.0.1:{port}",
            "--workers", str(WORKERS), "--threads", str(THREADS), "--worker-class", WORKER_CLASS,
            "--keep-alive", "30", "--log-level", "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/api/v2/summary.json")
        for path in ("/api/v2/summary.json", "/status/"):  # warm every worker's cache
            for _ in range(WORKERS * THREADS * 4):
                urllib.request.urlopen(base + path, timeout=5).read()  # noqa: S310 - loopback only
        summary = load(base + "/api/v2/summary.json", server.pid)
        home = load(base + "/status/", server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
    rows = [
        (
            url,
            f"{r['rps']:.0f}",
            f"{r['p95_ms']:.2f}",
            r["errors"],
            f"{r['server_us']:.0f}",
            f"{r['load_us']:.0f}",
            f"{r['projected_rps']:.0f}",
        )
        for url, r in (("/api/v2/summary.json", summary), ("/status/", home))
    ]
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (others' work makes req/s noisy)")
    print_table(
        f"statusapi: gunicorn {WORKERS}x{THREADS} {WORKER_CLASS}, {CONCURRENCY} connections, {SECONDS}s each, "
        f"load by {summary['tool']}",
        rows,
        ("url", "req/s", "p95 ms", "errors", "server CPU us/req", "load CPU us/req", "req/s on 2 idle cores"),
    )
    bench_line(
        {
            "scenario": "statusapi",
            "summary_rps": round(summary["rps"]),
            "home_rps": round(home["rps"]),
            "p95_ms": round(max(summary["p95_ms"], home["p95_ms"]), 2),
        }
    )
