"""restore_migration_data puts back what a transactional test's flush removed, exactly once over."""

import pytest
from django.contrib.auth.models import Group
from django_q.models import Schedule

from clinics.roles import CLINIC_STAFF, GROUPS, OPERATIONS, SUPPORT
from lanes.models import Lane
from tests.support.migration_data import restore_migration_data


@pytest.mark.django_db(transaction=True)
def test_flushed_groups_permissions_schedules_and_lanes_come_back_the_same():
    def state():
        return (
            {g.name: sorted(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()},
            sorted(Schedule.objects.values_list("name", "func", "cluster")),
            sorted(Lane.objects.values_list("name", flat=True)),
        )

    restore_migration_data()  # an earlier transactional test may have flushed them already
    migrated = state()
    # what the data migrations write, spelled out, so restore is not only compared with itself
    groups, schedules, lanes = migrated
    assert set(groups) == set(GROUPS)
    assert {"view_patient", "add_patient", "change_patient"} <= set(groups[CLINIC_STAFF])
    assert {"control_lane", "run_reindexjob", "change_billingbatch"} <= set(groups[OPERATIONS])
    assert {"add_incidentupdate", "change_incident"} <= set(groups[SUPPORT])
    assert not {"control_lane", "run_reindexjob"} & set(groups[SUPPORT])
    assert {func for _, func, _ in schedules} >= {"messaging.worker.safety_drain", "lanes.reindex.run_pending"}
    assert lanes == ["bulk", "live"]
    Group.objects.all().delete()
    Schedule.objects.all().delete()
    Lane.objects.all().delete()

    assert restore_migration_data() >= 6
    restore_migration_data()  # twice changes nothing
    assert state() == migrated
