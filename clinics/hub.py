"""The patient page is the hub of a patient's care: its own facts, and a section from each app that
holds something about the patient (messaging: the communication history and its Send buttons).

The tenancy app cannot import the apps scoped by it, so each adds its section here from its
AppConfig.ready() (explicit registration, no import side effects). A section is a template and a
function of (request, patient) giving that template's context; it reads through its app's selectors,
which are scoped by the request's clinic like everything else.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest

from clinics.models import Patient


@dataclass(frozen=True)
class Section:
    name: str
    template: str  # the section's body, below the patient's facts
    context: Callable[[HttpRequest, Patient], dict]
    actions_template: str = ""  # buttons beside the patient's name


SECTIONS: dict[str, Section] = {}


def register(section: Section) -> None:
    SECTIONS[section.name] = section  # by name: a second ready() (tests, reloads) replaces, never doubles


@dataclass(frozen=True)
class Shown:
    section: Section
    context: dict


def sections_for(request: HttpRequest, patient: Patient) -> list[Shown]:
    return [Shown(section, section.context(request, patient)) for section in SECTIONS.values()]
