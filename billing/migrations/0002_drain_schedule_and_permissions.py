"""Staff groups' permissions. It once created the batch builder's safety-net schedule too: schedules
come from the lanes registry now (BillingConfig.ready), upserted by name at every migrate with
BILLING_SCHEDULE_MINUTES as the settings give it then (lanes.schedules)."""

from django.db import migrations

from clinics.roles import OPERATIONS, grant


def create_schedule(apps, schema_editor):
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


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("clinics", "0002_staff_groups"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, migrations.RunPython.noop)]
