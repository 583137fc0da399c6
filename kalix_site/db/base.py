"""PostgreSQL (Django's own backend) with a cheaper health check: ENGINE "kalix_site.db".

CONN_HEALTH_CHECKS makes Django run `SELECT 1` before the first query of every request on a reused
connection, so that one dropped by a database restart is replaced instead of failing the request. For a
webhook POST that is a fifth of its statements and a third of its time in the reports bench. A connection
that ran a request or task less than DB_HEALTH_CHECK_AFTER_IDLE_SECONDS ago without a connection error is
used without the check: a restart takes longer than that, and a request that meets a connection dropped
in between fails once and the connection is replaced (errors_occurred: Django checks it at the request's
end). 0 checks before every request, as Django does.
"""

import time

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.used_at = float("-inf")  # when a cursor was last made on the current connection

    def connect(self):
        super().connect()
        self.used_at = float("-inf")  # a new connection: proven by nothing yet

    def close_if_health_check_failed(self):
        if (
            self.connection is not None
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
