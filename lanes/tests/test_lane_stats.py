"""Dashboard figures: per-minute samples, throughput windows, ETA and the SVG sparklines."""

from datetime import timedelta

import pytest
from django.utils import timezone

from lanes import stats as lane_stats
from lanes.models import LaneSample, ReindexChunk
from lanes.reindex import reindex_start

pytestmark = pytest.mark.django_db


def in_scope(clinic):
    """A message for the job to re-index: a job over nothing is done at once, with no depth."""
    from tests.support.seed import seed_messages

    seed_messages(clinic_id=clinic.pk, count=1)


def test_samples_record_depth_age_and_done_per_lane(clinic_a):
    in_scope(clinic_a)
    job = reindex_start()
    ReindexChunk.objects.create(job=job, first_id=1, last_id=600, rows=600, changed=5, seconds=0.1, at=timezone.now())
    job.total_rows = 1_000
    job.save()

    assert lane_stats.record_samples() == 2

    bulk = LaneSample.objects.get(lane="bulk")
    assert (bulk.depth, bulk.done) == (1_000, 600)
    assert bulk.oldest_age_s is not None


def test_old_samples_are_dropped(settings):
    settings.LANE_SAMPLE_KEEP_MINUTES = 60
    LaneSample.objects.create(lane="live", at=timezone.now() - timedelta(hours=2), depth=1, done=1)

    lane_stats.record_samples()

    assert not LaneSample.objects.filter(at__lt=timezone.now() - timedelta(hours=1)).exists()


def test_dashboard_throughput_windows_and_eta(clinic_a):
    in_scope(clinic_a)
    job = reindex_start()
    job.total_rows = 10_000
    job.save()
    now = timezone.now()
    for minutes_ago, rows in [(0.5, 600), (3, 1_200), (10, 3_000)]:
        ReindexChunk.objects.create(
            job=job, first_id=1, last_id=2, rows=rows, changed=0, seconds=1, at=now - timedelta(minutes=minutes_ago)
        )

    bulk = {lane["name"]: lane for lane in lane_stats.dashboard()}["bulk"]

    assert bulk["per_min"] == {1: 600, 5: 1_800 / 5, 15: 4_800 / 15}
    assert bulk["eta_s"] == pytest.approx(10_000 / (1_800 / 5 / 60))


def test_sparkline_is_inline_svg_scaled_to_its_maximum():
    svg = lane_stats.sparkline([0, 5, 10, None], width=30, height=12)

    assert svg.startswith("<svg") and "<polyline" in svg and 'aria-label="last hour, max 10"' in svg
    points = [tuple(map(float, p.split(","))) for p in svg.split('points="')[1].split('"')[0].split()]
    assert [x for x, _ in points] == [0, 10, 20, 30]
    assert points[2][1] == min(y for _, y in points) and points[0][1] == points[3][1]


def test_dashboard_counts_the_tasks_in_each_lanes_broker_and_the_waiting_pokes(django_capture_on_commit_callbacks):
    from django.db import transaction
    from django_q.tasks import async_task

    from lanes.pokes import poke

    for _ in range(3):
        async_task("time.sleep", 0, cluster="bulk")  # per-item tasks, as the incident's re-index enqueued
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            poke("lanes.reindex.run_pending", lane="bulk")  # the second finds the first waiting

    lanes = {lane["name"]: lane for lane in lane_stats.dashboard()}

    assert (lanes["bulk"]["broker_tasks"], lanes["bulk"]["waiting_pokes"]) == (4, 1)
    assert (lanes["live"]["broker_tasks"], lanes["live"]["waiting_pokes"]) == (0, 0)


def test_a_broker_that_cannot_answer_shows_unknown(monkeypatch):
    import django_q.brokers

    def broken(list_key=None):
        raise ConnectionError("broker down")

    monkeypatch.setattr(django_q.brokers, "get_broker", broken)
    lanes = {lane["name"]: lane for lane in lane_stats.dashboard()}
    assert lanes["live"]["broker_tasks"] is None
