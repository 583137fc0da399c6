"""django-q2 brokers that also record which lane each running cluster serves.

django-q2's own cluster stats do not say which named cluster (lane) they belong to, so /healthz and
the queue dashboard could not tell a dead `bulk` lane from a live one. The sentinel of every cluster
calls `set_stat` each guard cycle with its broker, whose `list_key` is the lane; we turn that into a
LaneHeartbeat row, at most once every few seconds per cluster.
"""

import time

from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.signing import BadSignature, SignedPackage

HEARTBEAT_EVERY = 2.0  # seconds


class LaneHeartbeatMixin:
    _last_heartbeat = 0.0

    def __init__(self, list_key: str | None = None):
        super().__init__(list_key=list_key)
        # The lane is the cluster's name: the ORM broker's list_key, but the Redis broker rewrites its
        # list_key to "django_q:<name>:q", which is not a lane.
        self.lane = list_key or Conf.CLUSTER_NAME

    def set_stat(self, key: str, value: str, timeout: int):
        result = super().set_stat(key, value, timeout)
        now = time.monotonic()
        if now - self._last_heartbeat >= HEARTBEAT_EVERY:
            self._last_heartbeat = now
            try:
                stat = SignedPackage.loads(value)
            except BadSignature:
                return result
            from lanes.heartbeats import record_heartbeat

            record_heartbeat(lane=self.lane, stat=stat)
        return result


class LaneORM(LaneHeartbeatMixin, ORM):
    pass


try:
    from django_q.brokers.redis_broker import Redis

    class LaneRedis(LaneHeartbeatMixin, Redis):
        pass

except ImportError:  # the redis package is only needed when the Redis broker is chosen
    pass
