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


def test_an_old_broker_class_setting_names_the_moved_broker():
    """KALIX_Q_BROKER_CLASS=kalix_site.qbroker.LaneRedis, set before the brokers moved, still works."""
    import subprocess
    import sys

    from tests.support.processes import ROOT, process_env

    code = "from django.conf import settings; print(settings.Q_CLUSTER['broker_class'])"
    env = process_env(KALIX_Q_BROKER_CLASS="kalix_site.qbroker.LaneRedis")
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    command = [sys.executable, "manage.py", "shell", "-c", code]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "lanes.brokers.LaneRedis", result.stdout + result.stderr
