"""Form pieces shared by every app.

RequestKeyField: the one-time token that makes one rendered form one intent. Each rendering of the
form carries a fresh random key; the service the form posts to stores it with what it makes (unique
per clinic in the database) and answers a key it already holds with the thing made the first time.
Two presses of one page (a double click, a resent request, the Back button) are one intent; a newly
loaded page is a new one.
"""

import uuid

from django import forms
from phonenumber_field.phonenumber import PhoneNumber, to_python
from phonenumber_field.widgets import RegionalPhoneNumberWidget


def new_request_key() -> str:
    return uuid.uuid4().hex


class RequestKeyField(forms.CharField):
    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("initial", new_request_key)  # a callable: evaluated afresh for every form rendered
        kwargs.setdefault(
            "error_messages", {"required": "This form is missing its one-time key: reload the page and try again."}
        )
        super().__init__(**kwargs)


class PhoneNumberBox(RegionalPhoneNumberWidget):
    """A phone number box that shows a refused number as it was typed. phonenumber_field's widget shows
    whatever it parsed: "0412 345 67" came back as "41234567" and "+61 412 345 6789" as "4123456789",
    beside "Enter a valid phone number", so the person could not see what they had typed."""

    def format_value(self, value):
        if isinstance(value, str):  # as submitted: valid ones are shown in the national format
            number = to_python(value, region=self.region)
            if not (isinstance(number, PhoneNumber) and number.is_valid()):
                return value
        return super().format_value(value)
