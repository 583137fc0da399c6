"""Held messages made before `to_patient_contact` existed: those whose recipient is still the patient's
contact on their channel were addressed to it, so a release follows the patient's later changes too. Only
held messages (message_held_idx): the flag is read by the release alone."""

from django.core.exceptions import ValidationError
from django.db import migrations

from messaging import content

CONTACT_FIELD = {"email": "email", "sms": "mobile", "fax": "fax"}


def mark_held(apps, schema_editor):
    Message = apps.get_model("messaging", "Message")
    own = []
    for message in Message.objects.filter(dispatch="held", patient__isnull=False).select_related("patient"):
        contact = str(getattr(message.patient, CONTACT_FIELD[message.channel]) or "")
        try:
            if contact and content.normalise_recipient(message.channel, contact) == message.recipient:
                own.append(message.pk)
        except ValidationError:  # a contact saved before its checks: not comparable, so not the patient's own
            pass
    Message.objects.filter(pk__in=own).update(to_patient_contact=True)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0023_message_to_patient_contact")]

    operations = [migrations.RunPython(mark_held, migrations.RunPython.noop)]
