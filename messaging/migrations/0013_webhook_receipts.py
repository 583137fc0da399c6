"""Receipts of webhook deliveries already filed, so a replayed or retried delivery stores nothing.

A new, small table (rows live for twice the replay window); no data is touched.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0012_one_retry_per_message"),
    ]

    operations = [
        migrations.CreateModel(
            name="WebhookReceipt",
            fields=[
                (
                    "digest",
                    models.CharField(
                        help_text="SHA-256 of provider and delivery.", max_length=64, primary_key=True, serialize=False
                    ),
                ),
                ("received_at", models.DateTimeField(db_index=True)),
            ],
        ),
    ]
