"""The live lane's safety net: a schedule that drains it every minute, so a lost poke delays little."""

from django.db import migrations

NAME = "messaging: live-lane safety drain"


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "messaging.worker.safety_drain",
            "schedule_type": "I",  # every `minutes`
            "minutes": 1,
            "repeats": -1,
            "cluster": "live",
        },
    )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0003_inbox_order"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create, remove)]
