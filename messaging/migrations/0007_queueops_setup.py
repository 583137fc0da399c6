"""Queue operations: the permissions of the Operations group (Support gets none: it cannot see or steer
queues). It once created the bulk lane's schedules too: they come from the lanes registry now, upserted
by name at every migrate (lanes.schedules).

The lane rows and the grants on the queue models are made by lanes 0002 now: the models moved there, and
this function also runs on today's models (tests.support.migration_data.restore_migration_data), which have no
messaging.lane."""

from django.db import migrations

from clinics.roles import OPERATIONS, grant

READ = ["messaging.view_queuedmessage"]


def forwards(apps, schema_editor):
    grant(apps, OPERATIONS, READ)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0006_queueops_lanes_reindex"),
        ("clinics", "0002_staff_groups"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
