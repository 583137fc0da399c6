"""The per-request database health check (kalix_site/db/base.py): in a web request, an idle connection whose
socket has nothing to read is used without Django's `SELECT 1`; one the server has dropped (its socket
readable) gets the check and is replaced, so the request does not fail; workers keep the check."""

import threading

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
    conn.serving_request = web  # what the request_started receiver sets (test_a_request_marks... below)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]
    finally:
        conn.serving_request = False
        conn.close_if_unusable_or_obsolete()


def drop(pid: int) -> None:
    """End that session from the server's side, as a restart or pg_terminate_backend does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])

    def gone():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            return cursor.fetchone()[0] == 0

    wait_for(gone, timeout=10, interval=0.02, message="the dropped session to end")


def test_the_backend_is_ours_with_health_checks_on():
    assert type(connections["default"]).__module__ == "kalix_site.db.base"
    assert connections["default"].settings_dict["CONN_HEALTH_CHECKS"] is True


def test_an_idle_connection_the_server_said_nothing_on_skips_the_select_1(wrapper):
    """The reports bench's finding: `SELECT 1` before each webhook POST was a third of its time."""
    first = request(wrapper)
    assert [request(wrapper) for _ in range(5)] == [first] * 5
    assert wrapper.checks == [], "no round trip"


def test_a_connection_the_server_dropped_is_checked_and_replaced_and_the_request_goes_on(wrapper):
    dropped = request(wrapper)
    drop(dropped)
    assert wrapper.server_has_spoken(), "the termination notice, or the end of the stream, waits to be read"
    assert request(wrapper) != dropped, "a new connection, and the request did not fail"
    assert wrapper.checks == [1]


def test_with_the_query_setting_every_request_checks_as_django_does(wrapper, settings):
    settings.DB_HEALTH_CHECK = "query"
    for _ in range(3):
        request(wrapper)
    assert wrapper.checks == [1, 1], "every reuse of the connection (its first request made it)"


def test_a_workers_connection_is_checked_before_every_task(wrapper):
    """django-q2's pusher stops for 10 s when a broker poll fails: workers keep Django's check."""
    for _ in range(3):
        request(wrapper, web=False)
    assert wrapper.checks == [1, 1]


def test_a_real_request_marks_this_threads_connections_and_no_other_thread_s(client, monkeypatch):
    seen = []
    real = type(connections["default"]).close_if_health_check_failed

    def record(self):
        seen.append((threading.current_thread().name, self.serving_request))
        return real(self)

    monkeypatch.setattr(type(connections["default"]), "close_if_health_check_failed", record)
    other = {}

    def elsewhere():
        connections["default"].ensure_connection()
        other["conn"] = connections["default"]
        ready.set()
        asked.wait(10)
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
        connections["default"].close()

    ready, asked = threading.Event(), threading.Event()
    thread = threading.Thread(target=elsewhere, name="worker-thread")
    thread.start()
    ready.wait(10)
    assert client.get("/healthz").status_code in (200, 503)  # a view that reads the database
    asked.set()
    thread.join(10)

    mine = {marked for name, marked in seen if name != "worker-thread"}
    assert True in mine, "the request's own queries ran marked as serving it"
    assert ("worker-thread", False) in seen and ("worker-thread", True) not in seen
    assert connections["default"].serving_request is False, "unmarked once the request is done"
