import json
import os
import signal
import subprocess
import sys

from tests.support.processes import ROOT, process_env, run_manage

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
    "ALLOWED_HOSTS": "kalix.example",
    "SECURE_PROXY_SSL_HEADER": "1",
    # the default SMS/fax provider is the simulated carrier: production will not start without its secret
    "KALIX_SIMCARRIER_SECRET": "a-carrier-secret-0123456789abcdef",
}


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


SECURITY_NAMES = [
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
]


def read_settings(**env):
    code = (
        "import json; from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {SECURITY_NAMES!r}}}))"
    )
    result = run_manage("shell", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return __import__("json").loads(result.stdout.strip().splitlines()[-1])


def test_secure_cookies_hsts_and_proxy_header_come_from_the_environment(db):
    production = read_settings(**PRODUCTION)
    assert production["SESSION_COOKIE_SECURE"] and production["CSRF_COOKIE_SECURE"]
    assert production["SECURE_HSTS_SECONDS"] == 31536000 and production["SECURE_SSL_REDIRECT"]
    assert production["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]

    relaxed = read_settings(
        **{
            **PRODUCTION,
            "SECURE_PROXY_SSL_HEADER": "0",
        },
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="600",
        SECURE_HSTS_PRELOAD="0",
    )
    assert not relaxed["SESSION_COOKIE_SECURE"] and not relaxed["CSRF_COOKIE_SECURE"]
    assert relaxed["SECURE_HSTS_SECONDS"] == 600 and not relaxed["SECURE_HSTS_PRELOAD"]
    assert not relaxed["SECURE_SSL_REDIRECT"] and relaxed["SECURE_PROXY_SSL_HEADER"] is None


def test_behind_a_tls_proxy_requests_are_secure_with_hsts_and_secure_cookies(client, staff_a, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True

    assert client.get("/accounts/login/").status_code == 301  # plain HTTP is sent to https
    response = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response.cookies["csrftoken"]["secure"]
    login = client.post(
        "/accounts/login/",
        {"username": "alice", "password": "correct-horse-battery-staple"},
        HTTP_X_FORWARDED_PROTO="https",
    )
    assert login.status_code == 302 and login.cookies["sessionid"]["secure"]
    assert login.cookies["sessionid"]["httponly"]


def test_the_redis_broker_connects_with_a_timeout():
    code = "from django.conf import settings; print(settings.Q_CLUSTER['redis'])"
    environ = process_env(REDIS_URL="redis://10.255.255.1:6379/2?health_check_interval=10")
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "redis://10.255.255.1:6379/2?health_check_interval=10&socket_connect_timeout=3"

    import redis

    client = redis.from_url(result.stdout.strip())  # redis-py takes it as a connection option
    assert client.connection_pool.connection_kwargs["socket_connect_timeout"] == 3


def postgres_serving(pgdata) -> list:
    """PostgreSQL server processes whose data directory is `pgdata` (psutil: whatever started them)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres" and str(pgdata) in " ".join(proc.info["cmdline"] or ()):
            found.append(proc)
    return found


def test_importing_settings_starts_no_database(tmp_path):
    pgdata = tmp_path / "pg"
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    environ.update(KALIX_PGDATA=str(pgdata), DEBUG="1")
    code = "import json, kalix_site.settings as s; print(json.dumps(s.DATABASES['default']))"
    try:
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        assert postgres_serving(pgdata) == []
        assert not (pgdata / "PG_VERSION").exists()  # not even initialised
        computed = json.loads(result.stdout.strip().splitlines()[-1])
        # Where the embedded server will listen once prepare, run or manage.py starts it.
        assert (computed["NAME"], computed["HOST"], computed["PORT"]) == ("kalix", str(pgdata), "5432")
    finally:
        for proc in postgres_serving(pgdata):
            proc.send_signal(signal.SIGINT)  # the current code started one: a fast shutdown
