import subprocess
import sys

from kalix_site.testing import ROOT, process_env

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
    "ALLOWED_HOSTS": "kalix.example",
    "SECURE_PROXY_SSL_HEADER": "1",
}


def run_manage(*args, **env):
    environ = process_env(**env)
    environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests only
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_values(db):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secret_key(db):
    env = {**PRODUCTION, "SECRET_KEY": ""}
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_lanes_are_separate_clusters_with_their_own_workers(settings):
    assert settings.Q_CLUSTER["cluster_name"] == "live"
    assert settings.Q_CLUSTER["workers"] == settings.LIVE_WORKERS
    assert settings.Q_CLUSTER["ALT_CLUSTERS"]["bulk"]["workers"] == settings.BULK_WORKERS
