"""Claim Adjustment Reason Codes (CARC, maintained by X12) and group codes, in the words staff read.

The codes most seen on professional claims; one not listed here is shown as its code with a pointer to
the X12 list, never hidden. Group codes say who bears the amount.
"""

GROUPS = {
    "CO": "Contractual obligation (written off)",
    "PR": "Patient responsibility",
    "OA": "Other adjustment",
    "PI": "Payer initiated reduction",
    "CR": "Correction or reversal",
}

REASONS = {
    "1": "Deductible amount",
    "2": "Coinsurance amount",
    "3": "Co-payment amount",
    "4": "The procedure code is inconsistent with the modifier used",
    "5": "The procedure code or bill type is inconsistent with the place of service",
    "6": "The procedure or revenue code is inconsistent with the patient's age",
    "7": "The procedure or revenue code is inconsistent with the patient's gender",
    "8": "The procedure code is inconsistent with the provider type or specialty",
    "9": "The diagnosis is inconsistent with the patient's age",
    "11": "The diagnosis is inconsistent with the procedure",
    "15": "The authorization number is missing, invalid, or does not apply",
    "16": "Claim or service lacks information needed for adjudication",
    "18": "Exact duplicate claim or service",
    "19": "Work-related injury: covered by workers' compensation",
    "22": "This care may be covered by another payer (coordination of benefits)",
    "23": "The impact of prior payer adjudication, including payments and adjustments",
    "24": "Charges are covered under a capitation agreement or managed care plan",
    "26": "Expenses incurred before coverage began",
    "27": "Expenses incurred after coverage ended",
    "29": "The time limit for filing has expired",
    "31": "Patient cannot be identified as our insured",
    "45": "Charge exceeds the fee schedule or maximum allowable amount",
    "49": "A routine or preventive service not covered",
    "50": "Not deemed a medical necessity by the payer",
    "59": "Processed under multiple or concurrent procedure rules",
    "96": "Non-covered charge",
    "97": "The benefit for this service is included in another service already adjudicated",
    "109": "Claim or service not covered by this payer; send it to the correct payer",
    "119": "Benefit maximum for this time period or occurrence has been reached",
    "140": "Patient and insured's health identification numbers and names do not match",
    "151": "The payer deems the information submitted does not support this many services",
    "167": "This diagnosis is not covered",
    "181": "The procedure code was invalid on the date of service",
    "197": "Pre-certification, notification or authorization was absent",
    "204": "This service is not covered under the patient's current benefit plan",
    "226": "Information requested from the billing provider was not provided or was insufficient",
    "242": "Services not provided by network or primary care providers",
    "252": "An attachment or other documentation is required to adjudicate this claim",
    "253": "Sequestration: reduction of federal payment",
    "A1": "Claim or service denied",
    "A7": "Presumptive payment adjustment",
    "B7": "This provider was not certified or eligible to be paid for this procedure on the date of service",
    "B13": "Previously paid: payment for this claim was provided in a prior remittance",
}


def reason_words(code: str) -> str:
    return REASONS.get(code, f"Reason code {code} (see the X12 CARC list)")


def group_words(code: str) -> str:
    return GROUPS.get(code, code)
