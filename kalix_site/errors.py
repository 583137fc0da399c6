"""The one mapping from Django's ValidationError (what every service raises) to what a person sees:
errors on a form's fields, or the API's 400 body.

Invariant: every message a service gives reaches the person, on the field it names when the form or
serializer has that field and as a non-field error otherwise, whether the error was raised with a dict
({"amount": "..."}), a list or one plain message. Each hand-written copy of this knew only one of those
shapes: a plain message answered 500 where a dict was expected, and the API put non-field errors under
three different keys.
"""

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions as drf_exceptions
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler


def error_dict(error: DjangoValidationError) -> dict[str | None, list[str]]:
    """{field name, or None for what concerns no one field: its messages}, whatever shape `error` has."""
    if not hasattr(error, "error_dict"):
        return {None: error.messages}
    return {None if field == NON_FIELD_ERRORS else field: messages for field, messages in error.message_dict.items()}


def add_form_errors(form, error: DjangoValidationError) -> None:
    """Put `error`'s messages on `form`: on the fields it has, the rest as non-field errors."""
    for field, messages in error_dict(error).items():
        form.add_error(field if field in form.fields else None, messages)


def as_text(error: DjangoValidationError) -> str:
    """One line for a command's CommandError or an admin message: "field: message; message"."""
    parts = (f"{field}: {' '.join(msgs)}" if field else " ".join(msgs) for field, msgs in error_dict(error).items())
    return "; ".join(parts)


def api_detail(error: DjangoValidationError) -> dict[str, list[str]]:
    """The API's 400 body: field errors by field name, the rest under DRF's non_field_errors, as a
    serializer's own validation answers."""
    return {field or api_settings.NON_FIELD_ERRORS_KEY: messages for field, messages in error_dict(error).items()}


def exception_handler(exc, context):
    """REST_FRAMEWORK's EXCEPTION_HANDLER: a Django ValidationError out of a service is a 400 with its
    field errors (DRF alone answers it 500); everything else as DRF answers it."""
    if isinstance(exc, DjangoValidationError):
        exc = drf_exceptions.ValidationError(api_detail(exc))
    return drf_exception_handler(exc, context)
