"""The queue platform's models now belong to the `lanes` app (lanes 0001 renamed their tables): drop them
from messaging's state, and move their content types, so every permission (messaging.control_lane is
now lanes.control_lane) and every group's grant of it carries over unchanged. No table is touched here.

A content type already made for the lanes model (permissions are created for every app whenever a data
migration grants one) is kept; the grants of the messaging one are carried over to it first.
"""

from django.db import migrations

MODELS = ["lane", "laneheartbeat", "waitingpoke", "laneaction", "lanesample", "reindexjob", "reindexchunk"]


def move_content_types(apps, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    for model in MODELS:
        old = ContentType.objects.filter(app_label=source, model=model).first()
        if old is None:
            continue
        new = ContentType.objects.filter(app_label=target, model=model).first()
        if new is None:
            old.app_label = target
            old.save(update_fields=["app_label"])
            continue
        for perm in Permission.objects.filter(content_type=old):
            twin = Permission.objects.filter(content_type=new, codename=perm.codename).first()
            if twin is None:
                perm.content_type = new
                perm.save(update_fields=["content_type"])
                continue
            for group in perm.group_set.all():
                group.permissions.add(twin)
            for user in perm.user_set.all():
                user.user_permissions.add(twin)
        old.delete()
    ContentType.objects.clear_cache()


def forwards(apps, schema_editor):
    move_content_types(apps, "messaging", "lanes")


def backwards(apps, schema_editor):
    move_content_types(apps, "lanes", "messaging")


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0015_withheld_event_kind"),
        ("lanes", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="laneaction", name="actor"),
                migrations.RemoveField(model_name="laneaction", name="undone_by"),
                migrations.RemoveField(model_name="reindexchunk", name="job"),
                migrations.RemoveField(model_name="reindexjob", name="clinic"),
                migrations.RemoveField(model_name="reindexjob", name="created_by"),
                migrations.DeleteModel(name="Lane"),
                migrations.DeleteModel(name="LaneHeartbeat"),
                migrations.DeleteModel(name="LaneSample"),
                migrations.DeleteModel(name="WaitingPoke"),
                migrations.DeleteModel(name="LaneAction"),
                migrations.DeleteModel(name="ReindexChunk"),
                migrations.DeleteModel(name="ReindexJob"),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
