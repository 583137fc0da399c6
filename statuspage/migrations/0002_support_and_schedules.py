"""The page generation row and Support's grants. It once created the status page's schedules too: they
come from the lanes registry now (StatuspageConfig.ready), upserted by name at every migrate
(lanes.schedules)."""

from django.db import migrations
from django.utils import timezone

from clinics.roles import SUPPORT, grant

MODELS_MANAGED = [
    "componentgroup",
    "component",
    "plainincident",
    "scheduledmaintenance",
    "incidenttemplate",
    "subscriber",
]
MODELS_READ = ["componentstatuschange", "incident", "incidentupdate", "notice"]


def forward(apps, schema_editor):
    apps.get_model("statuspage", "PageGeneration").objects.get_or_create(
        pk=1, defaults={"generation": 1, "updated_at": timezone.now()}
    )
    perms = [
        f"statuspage.{action}_{model}" for model in MODELS_MANAGED for action in ("view", "add", "change", "delete")
    ]
    perms += [f"statuspage.view_{model}" for model in MODELS_READ]
    perms += ["statuspage.change_incident", "statuspage.add_incidentupdate"]
    grant(apps, SUPPORT, perms)


class Migration(migrations.Migration):
    dependencies = [
        ("statuspage", "0001_initial"),
        ("clinics", "0002_staff_groups"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
