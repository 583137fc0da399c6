"""The registry takes each app's work kinds and schedules explicitly, refuses what cannot work, and the
schedules it holds are upserted at every migrate with the intervals the settings give then."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.sql import emit_post_migrate_signal
from django_q.models import Schedule

from lanes import registry
from lanes.schedules import upsert_schedules

EVERY_SCHEDULE = {
    "messaging: live-lane safety drain": ("messaging.worker.safety_drain", "live"),
    "messaging: reminders due": ("messaging.reminders.drain", "live"),
    "messaging: bulk sends": ("messaging.bulk.drain", "bulk"),
    "billing: build requested batches": ("billing.batches.drain_batch_requests", "live"),
    "statuspage: deliver notices": ("statuspage.notify.deliver_due", "live"),
    "statuspage: maintenance windows": ("statuspage.services.maintenance_tick", "live"),
    "statuspage: queue monitor": ("statuspage.queue_monitor.measure", "live"),
    "queueops: re-index safety net": ("lanes.reindex.run_pending", "bulk"),
    "queueops: lane samples": ("lanes.stats.record_samples", "bulk"),
    "queueops: purge old heartbeats": ("lanes.heartbeats.purge_stale", "bulk"),
    "clinics: housekeeping": ("clinics.housekeeping.purge", "bulk"),
}


@pytest.fixture
def scratch_registry(monkeypatch):
    monkeypatch.setattr(registry, "_kinds", dict(registry._kinds))
    monkeypatch.setattr(registry, "_schedules", dict(registry._schedules))


def depth():
    return 0, None


def test_every_app_registered_its_kinds_with_what_they_honour():
    honours = {(k.lane, k.kind): set(k.honours) for k in registry.kinds()}
    assert honours == {
        ("live", "messages"): {"pause", "order", "backlog", "promote"},
        ("live", "delivery reports"): {"pause"},
        ("live", "reminders"): {"pause"},
        ("live", "billing batches"): {"pause"},
        ("live", "status-page notices"): {"pause"},
        ("bulk", "re-index rows"): {"pause"},
        ("bulk", "bulk sends"): {"pause"},
    }
    assert registry.reindex_target().name == "messages"


@pytest.mark.parametrize(
    "bad, says",
    [
        ({"lane": "nowhere"}, "Unknown lane"),
        ({"honours": ["pause", "skip"]}, "no such lane control"),
        ({"honours": ["promote"]}, "must give its queued rows"),
        ({"honours": ["backlog"], "queued": lambda lane: None}, "must count its backlog"),
    ],
)
def test_a_kind_that_cannot_work_is_refused_at_registration(scratch_registry, bad, says):
    with pytest.raises(ImproperlyConfigured, match=says):
        registry.register_kind(**{"lane": "live", "kind": "x", "depth": depth, "drainer": "x.y", **bad})
    assert ("live", "x") not in {(k.lane, k.kind) for k in registry.kinds()}


def test_a_schedule_names_a_setting_that_exists(scratch_registry):
    with pytest.raises(ImproperlyConfigured, match="no setting"):
        registry.register_schedule(name="x", lane="live", func="x.y", minutes="NO_SUCH_MINUTES")


def test_migrate_upserts_every_schedule_with_the_intervals_of_the_settings_now(db, settings):
    Schedule.objects.all().delete()
    settings.BILLING_SCHEDULE_MINUTES = 7
    settings.REINDEX_SAFETY_MINUTES = 3

    call_command("migrate", verbosity=0)  # nothing to apply: the schedules still come back

    rows = {s.name: (s.func, s.cluster) for s in Schedule.objects.all()}
    assert rows == EVERY_SCHEDULE
    assert Schedule.objects.get(name="billing: build requested batches").minutes == 7
    assert Schedule.objects.get(name="queueops: re-index safety net").minutes == 3
    assert {s.schedule_type for s in Schedule.objects.all()} == {Schedule.MINUTES}


def test_old_schedules_are_updated_in_place_never_duplicated(db, settings):
    """What the old migrations left: the names, stale function paths and intervals, a second copy."""
    from django.utils import timezone

    Schedule.objects.all().delete()
    later = timezone.now() + timezone.timedelta(minutes=30)
    old = Schedule.objects.create(
        name="queueops: re-index safety net", func="messaging.reindex.run_pending", minutes=1, cluster="bulk"
    )
    Schedule.objects.filter(pk=old.pk).update(next_run=later)
    Schedule.objects.create(name="queueops: re-index safety net", func="messaging.reindex.run_pending", minutes=1)
    settings.REINDEX_SAFETY_MINUTES = 5

    upsert_schedules()

    (row,) = Schedule.objects.filter(name="queueops: re-index safety net")
    assert (row.pk, row.func, row.minutes, row.cluster) == (old.pk, "lanes.reindex.run_pending", 5, "bulk")
    assert row.next_run == later  # a new interval does not make it due
    assert Schedule.objects.count() == len(EVERY_SCHEDULE)


def test_a_flush_does_not_bring_schedules_back(db):
    Schedule.objects.all().delete()

    emit_post_migrate_signal(0, False, "default")  # what `flush` sends after emptying the tables

    assert not Schedule.objects.exists()
