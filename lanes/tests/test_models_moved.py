"""The queue models moved from messaging to lanes keep their rows, their permissions and every grant:
a database migrated up to messaging 0015 (the last layout with them in messaging), with data in every
table, comes out of lanes 0001 / messaging 0020 with the same rows under lanes_* tables."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from clinics.roles import OPERATIONS
from tests.support.migration_data import restore_migration_data

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("messaging", "0015_withheld_event_kind")


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection).loader


def tables() -> set[str]:
    return set(connection.introspection.table_names())


def test_upgrading_keeps_rows_permissions_and_grants():
    restore_migration_data()  # the groups, if an earlier transactional test flushed them
    loader = migrate([("lanes", None)])  # back to the layout where messaging owned the queue tables
    try:
        assert {"messaging_lane", "messaging_reindexjob"} <= tables()
        old = loader.project_state(BEFORE).apps
        user = old.get_model("auth", "User").objects.create(username="olga")
        now = timezone.now()
        old.get_model("messaging", "Lane").objects.update_or_create(name="live", defaults={"paused": True})
        action = old.get_model("messaging", "LaneAction").objects.create(
            lane="live", action="pause", actor=user, detail="paused", undo={"action": "resume"}
        )
        job = old.get_model("messaging", "ReindexJob").objects.create(chunk_size=500, total_rows=9, rows_done=4)
        old.get_model("messaging", "ReindexChunk").objects.create(
            job=job, first_id=1, last_id=4, rows=4, changed=1, seconds=0.1, at=now
        )
        old.get_model("messaging", "WaitingPoke").objects.create(key="live:x", lane="live", sent_at=now)
        old.get_model("messaging", "LaneHeartbeat").objects.create(
            cluster_id="c1", lane="bulk", pid=7, workers=1, status="Idle", started_at=now, seen_at=now
        )
        old.get_model("messaging", "LaneSample").objects.create(lane="bulk", at=now, depth=3, done=2)
        group = old.get_model("auth", "Group").objects.get(name=OPERATIONS)
        granted = set(group.permissions.values_list("content_type__app_label", "codename"))
        assert {("messaging", "control_lane"), ("messaging", "run_reindexjob")} <= granted
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    from django.contrib.auth.models import Group
    from django.contrib.contenttypes.models import ContentType

    from lanes.models import Lane, LaneAction, LaneHeartbeat, LaneSample, ReindexJob, WaitingPoke

    assert not {t for t in tables() if t.startswith(("messaging_lane", "messaging_reindex", "messaging_waiting"))}
    assert Lane.objects.get(name="live").paused
    moved = LaneAction.objects.get(pk=action.pk)
    assert (moved.actor.username, moved.undo) == ("olga", {"action": "resume"})
    assert ReindexJob.objects.get(pk=job.pk).chunks.get().rows == 4
    assert WaitingPoke.objects.get().key == "live:x"
    assert LaneHeartbeat.objects.get().lane == "bulk"
    assert LaneSample.objects.get().depth == 3
    assert LaneAction.objects.create(lane="bulk", action="order").pk > action.pk  # the id sequence came along

    granted = set(Group.objects.get(name=OPERATIONS).permissions.values_list("content_type__app_label", "codename"))
    assert {("lanes", "control_lane"), ("lanes", "run_reindexjob"), ("lanes", "view_laneheartbeat")} <= granted
    assert ("messaging", "view_queuedmessage") in granted  # the proxy stays in messaging
    assert not ContentType.objects.filter(app_label="messaging", model__in=["lane", "reindexjob", "laneaction"])
