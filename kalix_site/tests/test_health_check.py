"""The per-request database health check (kalix_site/db/base.py): skipped on a connection used a moment ago
without error, run on one idle longer, and a connection dropped while idle is replaced, not failed."""

import pytest
from django.db import connection, connections

from tests.support.processes import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def wrapper(monkeypatch):
    """A connection of our backend of its own, as a web process holds one, counting its health checks."""
    conn = connections.create_connection("default")
    checks = []
    real = type(conn).is_usable
    monkeypatch.setattr(conn, "is_usable", lambda: checks.append(1) or real(conn))
    conn.checks = checks
    yield conn
    conn.close()


def request(conn, *, web: bool = True) -> int:
    """One request's database use between Django's request_started and request_finished (or a worker's
    task between its close_old_connections calls, web=False): its backend pid."""
    conn.close_if_unusable_or_obsolete()
    conn.serving_request = web  # what the request_started receiver sets (see the signal test below)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]
    finally:
        conn.serving_request = False
        conn.close_if_unusable_or_obsolete()


def test_a_request_marks_the_open_connections_as_serving_it(client, monkeypatch):
    from django.core.signals import request_finished, request_started

    seen = []
    monkeypatch.setattr(
        type(connections["default"]),
        "close_if_health_check_failed",
        lambda self: seen.append(self.serving_request),
    )
    connections["default"].ensure_connection()
    request_started.send(sender=None)
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
    request_finished.send(sender=None)
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
    assert seen == [True, False]


def test_a_workers_connection_is_checked_before_every_task_however_fresh(wrapper, settings):
    """django-q2's pusher stops for 10 s when a broker poll fails: workers keep Django's check."""
    settings.DB_HEALTH_CHECK_AFTER_IDLE_SECONDS = 60
    for _ in range(3):
        request(wrapper, web=False)
    assert wrapper.checks == [1, 1]


def test_the_backend_is_ours_with_health_checks_on():
    assert type(connections["default"]).__module__ == "kalix_site.db.base"
    assert connections["default"].settings_dict["CONN_HEALTH_CHECKS"] is True


def test_a_connection_used_a_moment_ago_skips_the_select_1_and_an_idle_one_runs_it(wrapper, settings):
    """The reports bench's finding: `SELECT 1` before each webhook POST was a third of its time."""
    settings.DB_HEALTH_CHECK_AFTER_IDLE_SECONDS = 1.0
    first = request(wrapper)
    assert [request(wrapper) for _ in range(5)] == [first] * 5
    assert wrapper.checks == [], "used within the second: no round trip"

    wrapper.used_at -= 2  # idle for longer than the setting
    assert request(wrapper) == first
    assert wrapper.checks == [1]


def test_with_the_setting_at_0_every_request_checks_as_django_does(wrapper, settings):
    settings.DB_HEALTH_CHECK_AFTER_IDLE_SECONDS = 0
    for _ in range(3):
        request(wrapper)
    assert wrapper.checks == [1, 1], "every reuse of the connection (its first request made it)"


def test_a_connection_dropped_while_idle_is_replaced_before_the_request_uses_it(wrapper, settings):
    settings.DB_HEALTH_CHECK_AFTER_IDLE_SECONDS = 1.0
    dropped = request(wrapper)
    with connection.cursor() as cursor:  # the server drops it, as a restart does
        cursor.execute("SELECT pg_terminate_backend(%s)", [dropped])

    def gone():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [dropped])
            return cursor.fetchone()[0] == 0

    wait_for(gone, timeout=10, interval=0.02, message="the dropped session to end")
    wrapper.used_at -= 2
    assert request(wrapper) != dropped, "a new connection, and the request did not fail"
    assert wrapper.checks == [1]


def test_a_request_that_met_a_dropped_connection_leaves_it_to_be_replaced(wrapper, settings):
    """Within the second, a dropped connection fails the one request that meets it, and the next gets a
    new connection (Django checks a connection that had an error at the request's end)."""
    from django.db import OperationalError

    settings.DB_HEALTH_CHECK_AFTER_IDLE_SECONDS = 60
    dropped = request(wrapper)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [dropped])
    wrapper.close_if_unusable_or_obsolete()
    with pytest.raises(OperationalError):
        wait_for(lambda: request(wrapper) and False, timeout=5, interval=0.05, message="never")
    wrapper.close_if_unusable_or_obsolete()  # the failed request's end
    assert request(wrapper) != dropped
