"""Indexes for queue operations, built concurrently (the tables may be large): newest-first claims,
and counting live-lane hand-offs per minute for the dashboard."""

from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("messaging", "0007_queueops_setup")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS message_claim_newest_idx "
            "ON messaging_message (lane, priority, id DESC) WHERE dispatch = 'queued'",
            "DROP INDEX CONCURRENTLY IF EXISTS message_claim_newest_idx",
        ),
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS event_worker_received_idx "
            "ON messaging_deliveryevent (received_at) WHERE source = 'worker'",
            "DROP INDEX CONCURRENTLY IF EXISTS event_worker_received_idx",
        ),
    ]
