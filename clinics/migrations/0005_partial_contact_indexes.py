"""The contact indexes become partial (empty contacts left out), so the planner probes them for an address."""

import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # The patient table can be large and is written all day: build and drop the indexes concurrently.
    atomic = False
    dependencies = [
        ("clinics", "0004_address_consent"),
    ]

    operations = [
        RemoveIndexConcurrently(
            model_name="patient",
            name="patient_clinic_email_idx",
        ),
        RemoveIndexConcurrently(
            model_name="patient",
            name="patient_clinic_mobile_idx",
        ),
        RemoveIndexConcurrently(
            model_name="patient",
            name="patient_clinic_fax_idx",
        ),
        AddIndexConcurrently(
            model_name="patient",
            index=models.Index(
                models.F("clinic"),
                django.db.models.functions.text.Upper("email"),
                condition=models.Q(("email", ""), _negated=True),
                name="patient_clinic_email_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="patient",
            index=models.Index(
                condition=models.Q(("mobile", ""), _negated=True),
                fields=["clinic", "mobile"],
                name="patient_clinic_mobile_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="patient",
            index=models.Index(
                condition=models.Q(("fax", ""), _negated=True), fields=["clinic", "fax"], name="patient_clinic_fax_idx"
            ),
        ),
    ]
