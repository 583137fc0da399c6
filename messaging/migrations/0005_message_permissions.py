"""Operations may look at messages and their events, and run the message admin's actions.

Support runs the status page and gets nothing here: message bodies are health data."""

from django.db import migrations

from clinics.roles import OPERATIONS, grant

PERMS = [
    "messaging.view_message",
    "messaging.change_message",  # the admin actions: retry failed, cancel pending, re-derive status
    "messaging.view_deliveryevent",
    "messaging.view_webhookinbox",
]


def forwards(apps, schema_editor):
    grant(apps, OPERATIONS, PERMS)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0004_safety_drain_schedule"), ("clinics", "0002_staff_groups")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
