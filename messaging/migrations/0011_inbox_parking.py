"""Parking for the webhook inbox: a due time per report, its parked time and reason, and the partial
index the apply query picks due, unparked rows from (replacing the (tries, id) order). The match by
provider id gets a partial index of messages that have one, built concurrently (the table is large),
which the planner takes even when most messages have no provider id.

Schema only. The new columns need no table rewrite (PostgreSQL stores a constant or now() default
once); existing reports become due at once and are tried, then parked as the code says. Not atomic:
concurrent index builds cannot run in a transaction.
"""

import django.db.models.functions.datetime
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("messaging", "0010_waiting_pokes"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="webhookinbox",
            name="inbox_apply_order_idx",
        ),
        migrations.AddField(
            model_name="webhookinbox",
            name="next_attempt_at",
            field=models.DateTimeField(
                db_default=django.db.models.functions.datetime.Now(), help_text="Not picked before this time."
            ),
        ),
        migrations.AddField(
            model_name="webhookinbox",
            name="parked_at",
            field=models.DateTimeField(blank=True, help_text="Set: given up on, waits for an operator.", null=True),
        ),
        migrations.AddField(
            model_name="webhookinbox",
            name="reason",
            field=models.CharField(blank=True, help_text="Why the last try could not apply it.", max_length=200),
        ),
        migrations.AddIndex(
            model_name="webhookinbox",
            index=models.Index(
                condition=models.Q(("parked_at__isnull", True)), fields=["next_attempt_at", "id"], name="inbox_due_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="webhookinbox",
            index=models.Index(
                condition=models.Q(("parked_at__isnull", False)), fields=["parked_at"], name="inbox_parked_idx"
            ),
        ),
        AddIndexConcurrently(
            model_name="message",
            index=models.Index(
                condition=models.Q(("provider_message_id", ""), _negated=True),
                fields=["provider", "provider_message_id"],
                name="message_provider_ref_idx",
            ),
        ),
        RemoveIndexConcurrently(model_name="message", name="message_provider_id_idx"),
    ]
