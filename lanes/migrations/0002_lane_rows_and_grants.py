"""The lane rows, and what Operations may see and do here (Support gets nothing: it cannot see or steer
queues). Granted here since the models moved from messaging (messaging 0007 and clinics 0002 granted the
same permissions under `messaging`; an upgraded database has them already, carried over by messaging 0020)."""

from django.conf import settings
from django.db import migrations

from clinics.roles import OPERATIONS, grant

READ = ["lanes.view_lane", "lanes.view_laneaction", "lanes.view_reindexjob", "lanes.view_laneheartbeat"]
CONTROL = ["lanes.control_lane", "lanes.run_reindexjob", "lanes.add_reindexjob"]


def forwards(apps, schema_editor):
    Lane = apps.get_model("lanes", "Lane")
    for name in settings.LANES:
        Lane.objects.get_or_create(name=name)
    grant(apps, OPERATIONS, READ + CONTROL)


class Migration(migrations.Migration):
    dependencies = [
        ("lanes", "0001_initial"),
        ("messaging", "0020_lanes_models_moved"),
        ("clinics", "0002_staff_groups"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
