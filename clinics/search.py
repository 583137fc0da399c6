"""What staff type into a search box, read the way they mean it.

A phone number is typed as the clinic writes it ("0412 345 001", "(04) 1234 5001") or as stored
(E.164, "+61412345001"): a query made only of digits and phone punctuation is one number, turned into
the stored form's prefix, so a local number finds the international one. Names are typed as the lists
show them ("Lovelace, Ada"): commas separate words like spaces do.
"""

import re

import phonenumbers
from django.conf import settings

PHONE_TYPED = re.compile(r"^\+?[\d\s().-]+$")
MIN_PHONE_DIGITS = 4  # fewer digits are more likely part of a date, an invoice or a street number


def phone_prefix(text: str) -> str | None:
    """The stored (E.164) form's prefix for a typed phone number, or None if `text` is not one.

    A leading trunk 0 becomes the default region's country code; a leading + or country code stays.
    """
    text = text.strip()
    if not PHONE_TYPED.match(text):
        return None
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) < MIN_PHONE_DIGITS:
        return None
    if text.startswith("+"):
        return "+" + digits
    country = str(phonenumbers.country_code_for_region(settings.PHONENUMBER_DEFAULT_REGION))
    if digits.startswith("0"):
        return f"+{country}{digits[1:]}"
    if digits.startswith(country):
        return "+" + digits
    return None  # no trunk prefix and no country code: a fragment, searched as digits by the caller


def words(text: str) -> list[str]:
    """The words of a query; "Last, First" is two words."""
    return [w for w in re.split(r"[\s,;]+", text) if w]
