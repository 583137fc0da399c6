"""Queue operations: the bulk lane's schedules (re-index safety net, dashboard samples) and the
permissions of the Operations group (Support gets none: it cannot see or steer queues).

The lane rows and the grants on the queue models are made by lanes 0002 now: the models moved there, and
this function also runs on today's models (kalix_site.testing.restore_migration_data), which have no
messaging.lane."""

from django.conf import settings
from django.db import migrations

from clinics.roles import OPERATIONS, grant

SCHEDULES = {
    "queueops: re-index safety net": ("lanes.reindex.run_pending", lambda: settings.REINDEX_SAFETY_MINUTES),
    "queueops: lane samples": ("lanes.stats.record_samples", lambda: 1),
}
READ = ["messaging.view_queuedmessage"]


def forwards(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, (func, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": "I", "minutes": minutes(), "repeats": -1, "cluster": "bulk"},
        )
    grant(apps, OPERATIONS, READ)


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=list(SCHEDULES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0006_queueops_lanes_reindex"),
        ("clinics", "0002_staff_groups"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
