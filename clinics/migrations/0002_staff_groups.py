from django.db import migrations

from clinics.roles import CLINIC_STAFF, OPERATIONS, SUPPORT, grant


def create_groups(apps, schema_editor):
    grant(apps, CLINIC_STAFF, ["clinics.view_patient", "clinics.add_patient", "clinics.change_patient"])
    grant(apps, SUPPORT, [])
    # messaging.view_laneheartbeat, once granted here, moved with its model (lanes 0002 grants it)
    grant(apps, OPERATIONS, ["django_q.view_ormq", "django_q.view_failure"])


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[CLINIC_STAFF, SUPPORT, OPERATIONS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("clinics", "0001_initial"),
        ("messaging", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
