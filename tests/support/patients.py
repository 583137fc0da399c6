"""What the staff patient edit page posts, for tests that save a patient through it."""


def edit_form(patient, **changes) -> dict:
    """What the edit page posts for `patient`, with `changes`."""
    data = {
        "form_clinic": patient.clinic_id,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "email": patient.email,
        "mobile": str(patient.mobile or ""),
        "messaging_consent": patient.messaging_consent,
        "practitioner": patient.practitioner_id or "",
    }
    return {**data, **changes}
