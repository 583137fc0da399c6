"""Once created the live lane's safety-net schedule. Schedules now come from the lanes registry, upserted
at every migrate with the intervals the settings give (lanes.schedules), under the same name, so a
database that ran this migration keeps one schedule and gets its interval from the settings."""

from django.db import migrations

NAME = "messaging: live-lane safety drain"


def create(apps, schema_editor):
    """Nothing: MessagingConfig.ready registers the schedule and migrate upserts it."""


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0003_inbox_order"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
