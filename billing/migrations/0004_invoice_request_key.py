"""The invoice create form's one-time key, unique per clinic when set, so a double submit makes one
invoice. Schema only: existing invoices get an empty key (a constant default, no table rewrite), which
the partial index leaves out."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_invoice_history")]

    operations = [
        migrations.AddField(
            model_name="invoice",
            name="request_key",
            field=models.CharField(
                blank=True,
                editable=False,
                help_text="Idempotency key of the create form: one invoice per key.",
                max_length=64,
            ),
        ),
        migrations.AddConstraint(
            model_name="invoice",
            constraint=models.UniqueConstraint(
                condition=models.Q(("request_key", ""), _negated=True),
                fields=("clinic", "request_key"),
                name="invoice_request_key_unique_per_clinic",
            ),
        ),
    ]
