"""What each channel can carry: SMS segment counting, recipients."""

import pytest
from django.core.exceptions import ValidationError

from messaging.content import normalise_recipient, sms_encoding, sms_segments


@pytest.mark.parametrize(("length", "parts"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)])
def test_gsm7_is_160_then_153_per_part(length, parts):
    assert sms_encoding("a" * length) == "GSM-7"
    assert sms_segments("a" * length) == parts


@pytest.mark.parametrize(("length", "parts"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_is_70_then_67_per_part(length, parts):
    text = "ü" + "ā" * (length - 1)  # ā is not in GSM-7
    assert sms_encoding(text) == "UCS-2"
    assert sms_segments(text) == parts


def test_gsm7_extension_characters_count_twice():
    assert sms_segments("€" * 80) == 1
    assert sms_segments("€" * 81) == 2


def test_an_emoji_takes_two_ucs2_units():
    assert sms_segments("😀" * 35) == 1
    assert sms_segments("😀" * 36) == 2


def test_numbers_are_normalised_to_e164():
    assert normalise_recipient("sms", "0412 000 001") == "+61412000001"


@pytest.mark.parametrize(("channel", "value"), [("sms", "12"), ("fax", "not a number"), ("email", "ada@")])
def test_a_recipient_must_fit_its_channel(channel, value):
    with pytest.raises(ValidationError):
        normalise_recipient(channel, value)
