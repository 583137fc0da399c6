"""Both lane brokers record heartbeats under the lane's name (the Redis broker's list_key is not it)."""

from types import SimpleNamespace
from unittest import mock

import pytest
from django_q.signing import SignedPackage

from lanes.brokers import LaneORM, LaneRedis
from lanes.heartbeats import lane_health
from lanes.models import LaneHeartbeat

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("broker_class", [LaneORM, LaneRedis])
def test_a_clusters_heartbeat_is_recorded_under_its_lane(broker_class):
    broker = broker_class(list_key="bulk")
    broker.connection = mock.MagicMock()  # no Redis server needed: only the heartbeat is under test
    stat = SimpleNamespace(cluster_id="c-1", pid=42, workers=[1, 2], status="Idle", tob=None)

    broker.set_stat("django_q:bulk:cluster", SignedPackage.dumps(stat), 3)

    assert LaneHeartbeat.objects.get().lane == "bulk"
    assert lane_health()["bulk"] == {"alive": True, "clusters": 1, "workers": 2}
