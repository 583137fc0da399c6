"""A clinic's SMS sender is what carriers show as the sender: a name of up to 11 letters, digits or spaces with
a letter among them, or the clinic's own number in digits. Anything else was saved and refused by the carrier
at every send."""

import pytest
from django.core.exceptions import ValidationError

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["AlphaDiet", "Alpha Diet", "Diet4U", "A", "61412345678", "0412345678"])
def test_a_sender_name_carriers_take_is_kept(clinic_a, name):
    clinic_a.sms_sender = name
    clinic_a.full_clean()
    clinic_a.save()
    clinic_a.refresh_from_db()
    assert clinic_a.sms_sender == name


@pytest.mark.parametrize(
    "name",
    ["+61412345678", "0412 345 678", "12", "Alpha+Diet", "Diät", " Alpha", "Alpha ", "Alpha\nDiet", "AlphaDietetics"],
)
def test_a_sender_name_carriers_refuse_is_a_field_error(clinic_a, name):
    clinic_a.sms_sender = name
    with pytest.raises(ValidationError) as raised:
        clinic_a.full_clean()
    assert "sms_sender" in raised.value.message_dict
