"""Production refuses to start without the webhook secrets of the providers it uses; development makes
random ones per install. Each case runs in a subprocess with a clean environment (nothing inherited from
this test run but PATH and the test database's URL)."""

import json
import os
import signal
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.processes import ROOT, database_url

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
    "ALLOWED_HOSTS": "kalix.example",
    "SECURE_PROXY_SSL_HEADER": "1",
}
SIM = {"KALIX_SIMCARRIER_SECRET": "a-carrier-secret-0123456789abcdef"}


def clean_env(**env) -> dict:
    return {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "kalix_site.settings",
        "PYTHONWARNINGS": "ignore",
        **{k: str(v) for k, v in env.items()},
    }


def run(*argv, timeout=60, **env) -> subprocess.CompletedProcess:
    """Run `python argv...` in ROOT; a process still running at `timeout` (it started when it should
    have refused) is stopped with its process group and reported as such."""
    proc = subprocess.Popen(
        [sys.executable, *argv],
        cwd=ROOT,
        env=clean_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{argv} was still running after {timeout}s: it started instead of refusing\n{err}")
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


@pytest.mark.parametrize(
    "env, missing",
    [
        ({}, "KALIX_SIMCARRIER_SECRET"),  # the defaults: the simulated carrier for SMS and fax
        ({**SIM, "KALIX_SIMCARRIER_SECRET": ""}, "KALIX_SIMCARRIER_SECRET"),
        ({"KALIX_SMS_PROVIDER": "twilio", **SIM}, "TWILIO_AUTH_TOKEN"),
        ({"KALIX_SMS_PROVIDER": "twilio", "KALIX_FAX_PROVIDER": "twilio"}, "TWILIO_AUTH_TOKEN"),
        ({"KALIX_EMAIL_TRACKING": "1", **SIM}, "ANYMAIL_WEBHOOK_SECRET"),
        ({"EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend", **SIM}, "ANYMAIL_WEBHOOK_SECRET"),
    ],
)
def test_check_deploy_fails_naming_the_missing_webhook_secret(db, env, missing):
    result = run("manage.py", "check", "--deploy", **PRODUCTION, **env)
    assert result.returncode != 0, result.stdout
    assert missing in result.stderr
    assert "SystemCheckError" in result.stderr or "ERRORS" in result.stderr


def test_check_deploy_is_clean_when_every_enabled_provider_has_its_secret(db):
    env = {
        **PRODUCTION,
        **SIM,
        "KALIX_SMS_PROVIDER": "twilio",
        "TWILIO_AUTH_TOKEN": "a-twilio-token",
        "KALIX_EMAIL_TRACKING": "1",
        "ANYMAIL_WEBHOOK_SECRET": "esp:a-long-webhook-password",
    }
    result = run("manage.py", "check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ("manage.py", "migrate", "--plan"),
        ("manage.py", "qcluster"),  # a lane's workers
        ("-c", "import kalix_site.wsgi"),  # what gunicorn loads
    ],
    ids=["migrate", "worker", "web"],
)
def test_migrate_the_workers_and_the_web_refuse_to_start_without_it(db, argv):
    result = run(*argv, timeout=45, Q_CLUSTER_NAME="live", **PRODUCTION)
    assert result.returncode != 0, result.stdout
    assert "KALIX_SIMCARRIER_SECRET" in result.stderr


def read_dev_secrets(path) -> list[str]:
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SECRET_KEY, s.SIMCARRIER_SECRET, s.ANYMAIL['WEBHOOK_SECRET']]))"
    )
    result = run("-c", code, DEBUG="1", KALIX_DEV_SECRETS_FILE=path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_development_secrets_are_random_per_install_and_kept(tmp_path):
    one, two = tmp_path / "one" / "dev-secrets.json", tmp_path / "two" / "dev-secrets.json"
    first, second = read_dev_secrets(one), read_dev_secrets(two)
    for a, b in zip(first, second, strict=True):
        assert a and b and a != b
        assert len(a) >= 32
    assert read_dev_secrets(one) == first  # every process of one install agrees, run after run
    assert "sim-secret" not in first and "dev:dev" not in first
    user, _, password = first[2].partition(":")
    assert user and len(password) >= 24  # anymail's basic-auth 'user:password'
    assert stat.S_IMODE(one.stat().st_mode) == 0o600


def test_processes_starting_together_make_one_set_of_secrets(tmp_path):
    path = tmp_path / "fresh" / "dev-secrets.json"
    with ThreadPoolExecutor(4) as pool:
        seen = list(pool.map(lambda _: tuple(read_dev_secrets(path)), range(4)))
    assert len(set(seen)) == 1
