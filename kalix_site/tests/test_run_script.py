"""scripts/run.py (what `make run` starts) refuses to start over a running instance."""

import socket
import subprocess
import sys

from kalix_site.testing import ROOT


def test_refuses_a_port_in_use_and_starts_nothing():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "scripts/run.py"],
            cwd=ROOT,
            env={"PORT": str(port), "HOST": "127.0.0.1", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert "already in use" in result.stdout
    assert "starting" not in result.stdout  # no web server, lane or carrier was started
