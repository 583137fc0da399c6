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

SCHEDULES = [
    # (name, func): each every minute on the live lane; the safety net behind the pokes.
    ("statuspage: maintenance windows", "statuspage.services.maintenance_tick"),
    ("statuspage: deliver notices", "statuspage.notify.deliver_due"),
    ("statuspage: queue monitor", "statuspage.queue_monitor.measure"),
]


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
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": "I",
                "minutes": 1,
                "repeats": -1,
                "cluster": "live",
                "next_run": timezone.now(),
            },
        )


def backward(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=[n for n, _ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("statuspage", "0001_initial"),
        ("clinics", "0002_staff_groups"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(forward, backward)]
