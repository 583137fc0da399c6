"""The shapes of the codes on a claim: ICD-10 diagnosis codes and NPIs.

A code that cannot be one (ICD-10 "ZZZZ", an NPI whose check digit fails) is a field error when it is
typed, so it never reaches a payer. The ICD-10-CM code set itself (simple-icd-10-cm, the CMS release) is
asked for US payers' claims (billing.validation), since other countries code with their own ICD-10
modification (ICD-10-AM in Australia) whose codes the US set does not hold.
"""

import re

import simple_icd_10_cm

# A letter, a digit, a letter or digit (the category), then up to four more after an optional dot.
_ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")


def icd10_shape_ok(code: str) -> bool:
    return bool(_ICD10.match(code.strip().upper()))


def icd10_cm_known(code: str) -> bool:
    """In the ICD-10-CM code set (a category or a billable code)."""
    return simple_icd_10_cm.is_valid_item(code.strip().upper())


def icd10_cm_billable(code: str) -> bool:
    """A leaf of the ICD-10-CM tree: US payers accept only those on a claim."""
    code = code.strip().upper()
    return simple_icd_10_cm.is_valid_item(code) and simple_icd_10_cm.is_leaf(code)


def npi_ok(number: str) -> bool:
    """Ten digits whose last is the Luhn check digit of the nine before, prefixed 80840 (CMS's rule)."""
    if not re.fullmatch(r"\d{10}", number):
        return False
    digits = [int(d) for d in "80840" + number]
    total = 0
    for n, digit in enumerate(reversed(digits)):
        if n % 2 == 1:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return total % 10 == 0
