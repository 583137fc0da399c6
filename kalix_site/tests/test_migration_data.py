"""restore_migration_data puts back what a transactional test's flush removed, exactly once over."""

import pytest
from django.contrib.auth.models import Group
from django_q.models import Schedule

from clinics.roles import GROUPS, OPERATIONS
from kalix_site.testing import restore_migration_data
from messaging.models import Lane


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
    assert set(migrated[0]) == set(GROUPS) and "control_lane" in migrated[0][OPERATIONS]
    Group.objects.all().delete()
    Schedule.objects.all().delete()
    Lane.objects.all().delete()

    assert restore_migration_data() >= 6
    restore_migration_data()  # twice changes nothing
    assert state() == migrated
