"""What a message may contain on each channel: recipients, sizes, SMS segments, fax documents, and
header values.

A value that becomes a mail header (the subject, the recipient, a clinic's sender address) must be one
line of printable text: a CR or LF would let it add headers of its own ("Bcc: ..."), and Django refuses
it only when the email is built, inside the provider. So it is refused here, at input, as a field error
(form, API and admin all go through message_send), and the provider checks again for rows that got in
some other way (messaging.providers).
"""

import math

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from clinics.services import MOBILE_INVALID
from kalix_site.guard import header_problem  # the one check, shared with the status page's incident names

# A bad number in the words of the patient form's box for the channel (a retry's corrected number too).
NUMBER_INVALID = {
    "sms": MOBILE_INVALID,
    "fax": "Enter a valid phone number (e.g. (02) 1234 5678) or a number with an international call prefix.",
}

# GSM 03.38: the basic set costs one septet, the extension set two (escape + char).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")


HEADER_ERRORS = {
    "a line break": "The subject cannot contain line breaks.",
    "a control character": "The subject cannot contain control characters.",
}


def sms_encoding(text: str) -> str:
    return "GSM-7" if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text) else "UCS-2"


def sms_units(text: str) -> int:
    """Septets in GSM-7 (extension characters count twice), else UTF-16 code units."""
    if sms_encoding(text) == "GSM-7":
        return sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
    return len(text.encode("utf-16-le")) // 2


def sms_segments(text: str) -> int:
    """Parts an SMS of this text is sent as: GSM-7 160 characters (153 per part when split),
    UCS-2 70 code units (67 per part)."""
    if not text:
        return 0
    single, part = (160, 153) if sms_encoding(text) == "GSM-7" else (70, 67)
    units = sms_units(text)
    return 1 if units <= single else math.ceil(units / part)


def normalise_email(value: str) -> str:
    value = (value or "").strip()
    try:
        validate_email(value)
        if header_problem(value):  # a quoted local part may hold control characters; mail headers may not
            raise ValidationError("control character")
    except ValidationError:
        raise ValidationError({"recipient": "Enter a valid email address."}) from None
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def normalise_number(value: str, channel: str = "sms") -> str:
    try:
        number = phonenumbers.parse(str(value or "").strip(), settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError({"recipient": NUMBER_INVALID[channel]})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_recipient(channel: str, value: str) -> str:
    return normalise_email(value) if channel == "email" else normalise_number(value, channel)


def check_content(*, channel: str, subject: str, body: str, attachment) -> int:
    """Raise ValidationError for content the channel cannot carry; returns the SMS segment count."""
    errors = {}
    problem = header_problem(subject)
    if problem:  # on every channel: the subject is stored, searched and shown, and becomes a header
        errors["subject"] = HEADER_ERRORS[problem]
    if "\x00" in body:  # PostgreSQL text cannot hold NUL: refused here instead of a database error
        errors["body"] = "The text cannot contain NUL characters."
    if errors:
        raise ValidationError(errors)
    if channel == "email":
        if not subject.strip():
            errors["subject"] = "An email needs a subject."
        if not body.strip():
            errors["body"] = "Write the message."
        elif len(body.encode()) > settings.MESSAGING_EMAIL_MAX_BYTES:
            errors["body"] = f"An email body may be at most {settings.MESSAGING_EMAIL_MAX_BYTES:,} bytes."
    elif channel == "sms":
        if not body.strip():
            errors["body"] = "Write the message."
        elif sms_segments(body) > settings.MESSAGING_SMS_MAX_SEGMENTS:
            errors["body"] = (
                f"This SMS would be {sms_segments(body)} parts; the limit is {settings.MESSAGING_SMS_MAX_SEGMENTS}."
            )
    elif channel == "fax":
        if not attachment:
            errors["attachment"] = "A fax needs a PDF document."
        else:
            attachment.seek(0)
            head = attachment.read(5)
            attachment.seek(0)
            if head != b"%PDF-":
                errors["attachment"] = "The fax document must be a PDF."
            elif attachment.size > settings.MESSAGING_FAX_MAX_BYTES:
                errors["attachment"] = f"A fax document may be at most {settings.MESSAGING_FAX_MAX_BYTES:,} bytes."
    else:
        errors["channel"] = "Choose email, SMS or fax."
    if errors:
        raise ValidationError(errors)
    return sms_segments(body) if channel == "sms" else 0
