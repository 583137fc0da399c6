"""PostgreSQL (Django's own backend) with a cheaper health check for web requests: ENGINE "kalix_site.db".

CONN_HEALTH_CHECKS makes Django run `SELECT 1` before the first query of every request on a reused
connection, so that one dropped by a database restart is replaced instead of failing the request. For a
webhook POST that was a third of its time in the reports bench. In a web request, a connection that made
a cursor less than DB_HEALTH_CHECK_AFTER_IDLE_SECONDS ago without a connection error since is used without
the check: a restart takes longer than that, and a request that meets a connection dropped in between fails
once and the connection is replaced (Django checks a connection that had an error at the request's end).

Workers keep Django's check before every task and broker poll: django-q2's pusher stops for 10 s when a
poll fails, where a request's failure is one answer a carrier retries. 0 checks before every request too.
"""

import time

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connections
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.used_at = float("-inf")  # when a cursor was last made on the current connection
        self.serving_request = False  # between request_started and request_finished

    def connect(self):
        super().connect()
        self.used_at = float("-inf")  # a new connection: proven by nothing yet

    def close_if_health_check_failed(self):
        if (
            self.serving_request
            and self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.errors_occurred
            and time.monotonic() - self.used_at < settings.DB_HEALTH_CHECK_AFTER_IDLE_SECONDS
        ):
            self.health_check_done = True  # used a moment ago without error: no round trip to prove it
            return
        super().close_if_health_check_failed()

    def _cursor(self, name=None):
        cursor = super()._cursor(name)
        self.used_at = time.monotonic()
        return cursor


def _serving(value: bool):
    def receiver(**kwargs):
        for conn in connections.all(initialized_only=True):
            if isinstance(conn, DatabaseWrapper):
                conn.serving_request = value

    return receiver


_request_started, _request_finished = _serving(True), _serving(False)
request_started.connect(_request_started, dispatch_uid="kalix_site.db: serving a request")
request_finished.connect(_request_finished, dispatch_uid="kalix_site.db: request served")
