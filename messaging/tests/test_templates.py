"""Templates: merge fields rendered as plain text, unknown fields refused as a field error, the preview's
SMS size by the GSM-7/UCS-2 rules."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from messaging import templating
from messaging.content import sms_segments


def test_fields_are_replaced_once_and_hostile_text_stays_text(clinic_a):
    clinic_a.phone = "+61299990000"
    values = templating.values_for(
        clinic=clinic_a, first_name="{clinic_phone} <b>{{x}}", starts_at=datetime(2026, 12, 2, 23, 30, tzinfo=UTC)
    )
    text = templating.render(
        "Hi {first_name}, {clinic_name} on {appointment_date} at {appointment_time}. {{ok}}", values
    )
    # Sydney is UTC+11 in December: 23:30 UTC on the 2nd is 10:30 am on Thursday the 3rd.
    assert text == "Hi {clinic_phone} <b>{{x}}, Alpha Dietetics on Thursday 3 December 2026 at 10:30 AM. {ok}"


@pytest.mark.parametrize("body", ["Hi {name}", "Hi {first_name.__class__}", "Hi {0}", "Hi {}"])
def test_an_unknown_field_is_a_field_error(body):
    with pytest.raises(ValidationError) as caught:
        templating.check(body)
    assert "Unknown merge field" in caught.value.message_dict["body"][0]


def test_a_lone_brace_is_refused():
    with pytest.raises(ValidationError):
        templating.check("Hi { there")
    templating.check("Literal {{ and }} are fine, {first_name}")


@pytest.mark.parametrize(
    ("text", "segments", "encoding"),
    [
        ("a" * 160, 1, "GSM-7"),
        ("a" * 161, 2, "GSM-7"),
        ("a" * 306, 2, "GSM-7"),
        ("a" * 307, 3, "GSM-7"),
        ("ā" * 70, 1, "UCS-2"),
        ("ā" * 71, 2, "UCS-2"),
        ("ā" * 134, 2, "UCS-2"),
        ("ā" * 135, 3, "UCS-2"),
        ("€" * 80, 1, "GSM-7"),
        ("€" * 81, 2, "GSM-7"),
    ],
)
def test_preview_counts_segments_of_the_rendered_text(clinic_a, text, segments, encoding):
    shown = templating.preview(text, templating.values_for(clinic=clinic_a))
    assert (shown.segments, shown.encoding) == (segments, encoding) == (sms_segments(text), encoding)


def test_preview_counts_the_values_not_the_field_names(clinic_a):
    body = "x" * 150 + "{first_name}"
    assert templating.preview(body, templating.values_for(clinic=clinic_a, first_name="Ada")).segments == 1
    assert templating.preview(body, templating.values_for(clinic=clinic_a, first_name="Ngā")).encoding == "UCS-2"


def test_saving_a_template_with_an_unknown_field_changes_nothing(clinic_a):
    from messaging.models import MessageTemplate

    with pytest.raises(ValidationError) as caught:
        templating.template_save(clinic=clinic_a, name="Reminder", channel="sms", body="Hi {patient_name}")
    assert "{patient_name}" in caught.value.message_dict["body"][0]
    assert not MessageTemplate.objects.exists()
    made = templating.template_save(clinic=clinic_a, name="Reminder", channel="sms", body="Hi {first_name}")
    assert made.pk and made.clinic == clinic_a
