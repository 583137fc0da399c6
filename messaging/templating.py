"""Merge fields in a clinic's templates: `{first_name}`, `{clinic_name}`, ... replaced by plain text.

Staff write templates, so the renderer is deliberately tiny: a field is `{name}` from FIELDS, `{{` and `}}`
are literal braces, and nothing else is special. No Django template language (which would expose
filters, tags and objects' attributes to anyone who can edit a template), no str.format (which walks
attributes: `{0.__class__}`): the values are strings substituted once, and what a value contains is
never read as a field again, so a patient named "{clinic_phone}" stays that text. An unknown field is
refused at save time as a field error naming it. The rendered text is escaped where it is shown, like
any message body.
"""

import functools
import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils import formats, timezone

from messaging import content

FIELDS = {
    "first_name": "the patient's first name",
    "clinic_name": "the clinic's name",
    "clinic_phone": "the clinic's phone number",
    "appointment_date": "the appointment's date, in the clinic's time",
    "appointment_time": "the appointment's start time, in the clinic's time",
}
APPOINTMENT_FIELDS = {"appointment_date", "appointment_time"}
TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def fields_in(text: str) -> list[str]:
    return [m.group(1) for m in TOKEN.finditer(text or "") if m.group(1) is not None]


def check(text: str, *, field: str = "body") -> None:
    """ValidationError on `field` for a field name that is not in FIELDS (or a lone brace)."""
    unknown = sorted({name for name in fields_in(text) if name not in FIELDS})
    if unknown:
        names = ", ".join("{" + n + "}" for n in unknown)
        known = ", ".join("{" + n + "}" for n in FIELDS)
        raise ValidationError({field: f"Unknown merge field {names}. Use one of {known}."})
    stripped = TOKEN.sub("", text or "")
    if "{" in stripped or "}" in stripped:
        raise ValidationError({field: "A brace that opens no merge field: write {{ or }} for a literal brace."})


def render(text: str, values: dict[str, str]) -> str:
    """`text` with every field replaced by its value (missing values become empty); one pass."""

    def replace(match: re.Match) -> str:
        literal = {"{{": "{", "}}": "}"}.get(match.group(0))
        if literal is not None:
            return literal
        return str(values.get(match.group(1), ""))

    return TOKEN.sub(replace, text or "")


@functools.lru_cache(maxsize=4096)  # a reminder drain formats the same few start times thousands of times
def when(starts_at: datetime | None, zone: str) -> dict[str, str]:
    if starts_at is None:
        return {"appointment_date": "", "appointment_time": ""}
    local = timezone.localtime(starts_at, zoneinfo.ZoneInfo(zone))
    return {
        "appointment_date": formats.date_format(local, "l j F Y"),
        "appointment_time": formats.time_format(local, "g:i A"),
    }


def values_for(*, clinic, first_name: str = "", starts_at: datetime | None = None) -> dict[str, str]:
    return {
        "first_name": first_name,
        "clinic_name": clinic.name,
        "clinic_phone": str(clinic.phone or ""),
        **when(starts_at, clinic.timezone),
    }


@dataclass(frozen=True)
class Preview:
    text: str
    characters: int
    segments: int
    encoding: str

    @property
    def words(self) -> str:
        parts = "part" if self.segments == 1 else "parts"
        return f"{self.characters} characters · {self.segments} SMS {parts} ({self.encoding})"


def preview(text: str, values: dict[str, str]) -> Preview:
    """The rendered text with its SMS size: GSM-7 160 characters (153 per part), UCS-2 70 (67)."""
    rendered = render(text, values)
    return Preview(
        rendered, content.sms_units(rendered), content.sms_segments(rendered), content.sms_encoding(rendered)
    )


# --- Writes --------------------------------------------------------------------------------------------


def template_save(*, clinic, name: str, channel: str, body: str, subject: str = "", template=None):
    """Create (or, given `template`, change) a clinic's template; unknown fields are field errors."""
    from messaging.models import Channel, MessageTemplate

    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "Give the template a name."
    elif MessageTemplate.objects.filter(clinic=clinic, name=name).exclude(pk=getattr(template, "pk", None)).exists():
        errors["name"] = "This clinic already has a template of that name."
    if channel not in (Channel.SMS, Channel.EMAIL):
        errors["channel"] = "Choose SMS or email."
    if not (body or "").strip():
        errors["body"] = "Write the text."
    if "\x00" in (body or "") + (subject or ""):
        errors["body"] = "The text cannot contain NUL characters."
    if channel == Channel.EMAIL and not (subject or "").strip():
        errors["subject"] = "An email template needs a subject."
    if content.header_problem(subject or ""):
        errors["subject"] = "The subject must be one line of text."
    for field, text in (("body", body), ("subject", subject)):
        if field not in errors:
            try:
                check(text, field=field)
            except ValidationError as exc:
                errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    if template is not None and template.clinic_id != clinic.pk:
        raise ValidationError({"name": "No such template in this clinic."})
    template = template or MessageTemplate(clinic=clinic)
    template.name, template.channel, template.body, template.subject = name, channel, body, subject or ""
    template.save()
    return template
