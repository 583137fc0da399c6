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
