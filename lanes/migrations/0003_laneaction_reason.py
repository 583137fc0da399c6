"""Why an operator paused a lane or paused or cancelled a re-index: required by those services, kept in
the audit. A small table; the empty default makes the new column metadata-only in PostgreSQL."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("lanes", "0002_lane_rows_and_grants"),
    ]

    operations = [
        migrations.AddField(
            model_name="laneaction",
            name="reason",
            field=models.CharField(blank=True, help_text="Why, in the operator's words.", max_length=255),
        ),
    ]
