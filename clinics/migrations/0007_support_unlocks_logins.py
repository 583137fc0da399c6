"""Support may see and lift login lockouts (django-axes' attempts) in admin; Operations may not: the
attempts name staff accounts and addresses, and unlocking is a people matter, not a queue one."""

from django.db import migrations

from clinics.roles import SUPPORT, grant


def forwards(apps, schema_editor):
    grant(apps, SUPPORT, ["axes.view_accessattempt", "axes.delete_accessattempt"])


class Migration(migrations.Migration):
    dependencies = [("clinics", "0006_appointments"), ("axes", "0010_accessattemptexpiration")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
