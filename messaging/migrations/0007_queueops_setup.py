"""Queue operations: the lane rows, the bulk lane's schedules (re-index safety net, dashboard samples)
and the permissions of the Operations group (Support gets none: it cannot see or steer queues)."""

from django.conf import settings
from django.db import migrations

from clinics.roles import OPERATIONS, grant

SCHEDULES = {
    "queueops: re-index safety net": ("messaging.reindex.run_pending", lambda: settings.REINDEX_SAFETY_MINUTES),
    "queueops: lane samples": ("messaging.lane_stats.record_samples", lambda: 1),
}
READ = [
    "messaging.view_lane",
    "messaging.view_laneaction",
    "messaging.view_reindexjob",
    "messaging.view_queuedmessage",
]
CONTROL = ["messaging.control_lane", "messaging.run_reindexjob", "messaging.add_reindexjob"]


def forwards(apps, schema_editor):
    Lane = apps.get_model("messaging", "Lane")
    for name in settings.LANES:
        Lane.objects.get_or_create(name=name)
    Schedule = apps.get_model("django_q", "Schedule")
    for name, (func, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": "I", "minutes": minutes(), "repeats": -1, "cluster": "bulk"},
        )
    grant(apps, OPERATIONS, READ + CONTROL)


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=list(SCHEDULES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0006_queueops_lanes_reindex"),
        ("clinics", "0002_staff_groups"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
