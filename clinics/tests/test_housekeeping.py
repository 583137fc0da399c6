"""Every housekeeping table that only grows has a purge on a lanes schedule: rate-limit buckets, expired
sessions and lane heartbeats (lane samples, webhook receipts and the webhook inbox purge themselves:
lanes/stats.py, messaging's safety drain). Old rows go, current ones stay."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_q.models import Schedule

from clinics.models import RateLimitBucket
from lanes import registry
from lanes.models import LaneHeartbeat

pytestmark = pytest.mark.django_db

PURGES = {
    "clinics: housekeeping": "clinics.housekeeping.purge",
    "queueops: purge old heartbeats": "lanes.heartbeats.purge_stale",
}


def test_each_purge_is_a_registered_schedule_upserted_at_migrate():
    registered = {s.name: s.func for s in registry.schedules()}
    for name, func in PURGES.items():
        assert registered.get(name) == func
        assert Schedule.objects.filter(name=name, func=func, cluster="bulk").exists()


def test_old_buckets_and_expired_sessions_go_current_ones_stay():
    from clinics import housekeeping

    now = timezone.now()
    RateLimitBucket.objects.create(key="login:old", window_start=now - timedelta(hours=3), hits=5)
    RateLimitBucket.objects.create(key="login:now", window_start=now, hits=1)
    Session.objects.create(session_key="old" * 8, session_data="", expire_date=now - timedelta(days=1))
    Session.objects.create(session_key="new" * 8, session_data="", expire_date=now + timedelta(days=1))

    assert housekeeping.purge() == {"rate-limit buckets": 1, "sessions": 1}
    assert list(RateLimitBucket.objects.values_list("key", flat=True)) == ["login:now"]
    assert list(Session.objects.values_list("session_key", flat=True)) == ["new" * 8]


def test_heartbeats_of_clusters_long_gone_are_purged(settings):
    from lanes import heartbeats

    settings.LANE_HEARTBEAT_KEEP_HOURS = 24
    now = timezone.now()
    for cluster, seen in (("gone", now - timedelta(hours=25)), ("alive", now)):
        LaneHeartbeat.objects.create(
            cluster_id=cluster, lane="live", pid=1, workers=1, status="Idle", started_at=seen, seen_at=seen
        )
    assert heartbeats.purge_stale() == 1
    assert list(LaneHeartbeat.objects.values_list("cluster_id", flat=True)) == ["alive"]
