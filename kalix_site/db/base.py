"""PostgreSQL (Django's own backend) with a cheaper health check for web requests: ENGINE "kalix_site.db".

CONN_HEALTH_CHECKS makes Django run `SELECT 1` before the first query of every request on a reused
connection, so that one dropped by a database restart is replaced instead of failing the request. For a
webhook POST that was a third of its time in the reports bench. A server that ends a session (a restart,
pg_terminate_backend, a pooler going away) tells the client, or closes the socket: either way the idle
connection's socket has something to read. So in a web request an idle connection whose socket has
nothing to read is used at once, and only one with something to read (or known broken) gets Django's
`SELECT 1` and is replaced if it fails. KALIX_DB_HEALTH_CHECK=query checks every request as Django does.

Workers keep Django's check before every task and broker poll: it costs them nothing that matters, and
django-q2's pusher stops for 10 s when a poll meets a dropped connection.
"""

import select

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connections
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.serving_request = False  # between request_started and request_finished

    def close_if_health_check_failed(self):
        if (
            self.serving_request
            and getattr(settings, "DB_HEALTH_CHECK", "socket") == "socket"
            and self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.errors_occurred
            and not self.server_has_spoken()
        ):
            self.health_check_done = True  # idle and nothing from the server: no round trip to prove it
            return
        super().close_if_health_check_failed()

    def server_has_spoken(self) -> bool:
        """Whether the idle connection's socket has something to read (a termination notice, or the end of
        the stream), or the connection is known broken: then it gets the real check."""
        conn = self.connection
        if conn.closed or conn.broken:
            return True
        try:
            readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
        except Exception:  # psycopg raises its own error for a socket it has lost
            return True
        return bool(readable)


def _serving(value: bool):
    def receiver(**kwargs):
        for conn in connections.all(initialized_only=True):  # this thread's connections
            if isinstance(conn, DatabaseWrapper):
                conn.serving_request = value

    return receiver


_request_started, _request_finished = _serving(True), _serving(False)
request_started.connect(_request_started, dispatch_uid="kalix_site.db: serving a request")
request_finished.connect(_request_finished, dispatch_uid="kalix_site.db: request served")
