"""Safety net for the live lane: a schedule pokes the batch builder every minute; staff groups' permissions."""

from django.conf import settings
from django.db import migrations

from clinics.roles import OPERATIONS, grant

FUNC = "billing.batches.drain_batch_requests"
NAME = "billing: build requested batches"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": FUNC,
            "schedule_type": "I",  # minutes
            "minutes": settings.BILLING_SCHEDULE_MINUTES,
            "repeats": -1,
            "cluster": "live",
        },
    )
    grant(
        apps,
        OPERATIONS,
        [
            "billing.view_payer",
            "billing.view_invoice",
            "billing.view_billingbatch",
            "billing.change_billingbatch",
            "billing.view_batchhistory",
        ],
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("clinics", "0002_staff_groups"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
