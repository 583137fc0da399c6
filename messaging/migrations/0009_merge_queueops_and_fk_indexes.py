"""Joins the two branches of messaging migrations: queue operations (0006-0008, on main) and the
messaging team's 0006_drop_redundant_fk_indexes. No operations."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0008_queueops_indexes"),
        ("messaging", "0006_drop_redundant_fk_indexes"),
    ]

    operations = []
