"""At most one retry per message: a partial unique index on retry_of, built concurrently (the message
table is the big one, and a plain build would hold up every send while it scans).

Before the index, three Retry presses at once could make several retries of one message. Where the data
holds such duplicates, the first retry (lowest id) stays linked and the later ones are unlinked
(retry_of emptied: only those rows are touched). They remain ordinary messages, and their 'Queued'
event still reads "retry of message N", so the timeline keeps what they were. An index left invalid by
an interrupted run is dropped and built again, so re-running the migration is safe.
"""

from django.db import migrations, models
from django.db.models import Q

INDEX = "message_one_retry_per_message"

UNLINK_LATER_DUPLICATES = """
    UPDATE messaging_message SET retry_of_id = NULL
     WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY retry_of_id ORDER BY id) AS n
                                    FROM messaging_message WHERE retry_of_id IS NOT NULL) AS retries
                   WHERE n > 1)
"""
CREATE_INDEX = (
    f"CREATE UNIQUE INDEX CONCURRENTLY {INDEX} ON messaging_message (retry_of_id) WHERE retry_of_id IS NOT NULL"
)
DROP_INDEX = f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}"


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("messaging", "0011_inbox_parking")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(UNLINK_LATER_DUPLICATES, migrations.RunSQL.noop),
                migrations.RunSQL(DROP_INDEX, migrations.RunSQL.noop),
                migrations.RunSQL(CREATE_INDEX, DROP_INDEX),
            ],
            state_operations=[
                migrations.AddConstraint(
                    model_name="message",
                    constraint=models.UniqueConstraint(
                        condition=Q(retry_of__isnull=False), fields=("retry_of",), name=INDEX
                    ),
                ),
            ],
        ),
    ]
