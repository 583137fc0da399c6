"""Form pieces shared by every app.

RequestKeyField: the one-time token that makes one rendered form one intent. Each rendering of the
form carries a fresh random key; the service the form posts to stores it with what it makes (unique
per clinic in the database) and answers a key it already holds with the thing made the first time.
Two presses of one page (a double click, a resent request, the Back button) are one intent; a newly
loaded page is a new one.
"""

import uuid

from django import forms


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


class PointDecimalField(forms.FloatField):
    """A number typed as text, with a point for decimals. A browser's number box reads "5,5" as 55 in an
    English locale (the comma is a thousands separator there): a rate set ten times too high. As text,
    the comma reaches us and is refused with the reason."""

    widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
    default_error_messages = {
        "comma": 'Use a point for decimals ("5.5"), without commas.',
        "invalid": 'Enter a number, such as "5" or "0.5".',
    }

    def to_python(self, value):
        if isinstance(value, str) and "," in value:
            raise forms.ValidationError(self.error_messages["comma"], code="comma")
        return super().to_python(value.strip() if isinstance(value, str) else value)

    def widget_attrs(self, widget):
        return forms.Field.widget_attrs(self, widget)  # no min/max/step: those belong to a number box
