"""Load demo data: idempotent, so `make run` can call it every time.

This command makes the demo clinics, staff and patients, then hands the clinics to every other app's own
loader: `<app>.demo.load(clinics)`, found through django.apps for each of our installed apps that has a
`demo` module, in INSTALLED_APPS order (the order apps build on one another). The tenancy app therefore
names no domain app: a new app offers demo data by adding its `demo.load`.
"""

import importlib
from datetime import date
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.module_loading import module_has_submodule

from clinics.models import Clinic, Patient, StaffMembership
from clinics.roles import CLINIC_STAFF, OPERATIONS, SUPPORT

DEMO_PASSWORD = "kalix-demo"  # noqa: S105 (public demo accounts, printed by make run)

CLINICS = [
    {
        "slug": "harbour-dietetics",
        "name": "Harbour Dietetics",
        "timezone": "Australia/Sydney",
        "email_from": "hello@harbour-dietetics.example",
        "sms_sender": "HarbourDiet",
        "fax_number": "+61290000001",
    },
    {
        "slug": "summit-physio",
        "name": "Summit Physiotherapy",
        "timezone": "Australia/Perth",
        "email_from": "frontdesk@summit-physio.example",
        "sms_sender": "SummitPhys",
        "fax_number": "+61890000002",
    },
]

# username, clinic slugs, role
STAFF = [
    ("dana.practitioner", ["harbour-dietetics"], StaffMembership.Role.PRACTITIONER),
    ("rita.reception", ["harbour-dietetics"], StaffMembership.Role.RECEPTION),
    ("max.manager", ["harbour-dietetics", "summit-physio"], StaffMembership.Role.MANAGER),
    ("pat.physio", ["summit-physio"], StaffMembership.Role.PRACTITIONER),
    ("sam.reception", ["summit-physio"], StaffMembership.Role.RECEPTION),
]

PATIENTS = {
    "harbour-dietetics": [
        ("Olivia", "Nguyen", date(1984, 3, 2), "olivia.nguyen@example.com", "+61412345001", "opted_in"),
        ("Jack", "Williams", date(1979, 11, 20), "jack.w@example.com", "+61412345002", "opted_in"),
        ("Mia", "Brown", date(1992, 6, 14), "", "+61412345003", "unknown"),
        ("Noah", "Taylor", date(1968, 1, 30), "noah.taylor@example.com", "", "opted_in"),
    ],
    "summit-physio": [
        ("Charlotte", "Smith", date(1990, 9, 9), "charlotte.s@example.com", "+61412345101", "opted_in"),
        ("William", "Jones", date(1955, 4, 4), "", "+61412345102", "declined"),
        ("Amelia", "Wilson", date(2001, 12, 25), "amelia.w@example.com", "+61412345103", "opted_in"),
    ],
}


class Command(BaseCommand):
    help = "Create (or refresh) the demo clinics, users and patients. Safe to run repeatedly."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        clinics = {}
        for spec in CLINICS:
            clinic, _ = Clinic.objects.update_or_create(slug=spec["slug"], defaults=spec)
            clinics[clinic.slug] = clinic

        def user(username, *, groups=(), superuser=False):
            account, created = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@kalix.example"}
            )
            if created:
                account.set_password(DEMO_PASSWORD)
            account.is_superuser = superuser
            account.is_staff = superuser or bool(set(groups) & {SUPPORT, OPERATIONS})
            account.save()
            account.groups.set(Group.objects.filter(name__in=groups))
            return account

        for username, slugs, role in STAFF:
            account = user(username, groups=[CLINIC_STAFF])
            for slug in slugs:
                StaffMembership.objects.update_or_create(user=account, clinic=clinics[slug], defaults={"role": role})
        user("sue.support", groups=[SUPPORT])
        user("oscar.ops", groups=[OPERATIONS])
        user("admin", superuser=True)

        for slug, rows in PATIENTS.items():
            for first, last, dob, email, mobile, consent in rows:
                Patient.objects.update_or_create(
                    clinic=clinics[slug],
                    first_name=first,
                    last_name=last,
                    defaults={"date_of_birth": dob, "email": email, "mobile": mobile, "messaging_consent": consent},
                )
        for load in app_loaders():
            load(list(clinics.values()))
        self.stdout.write(self.style.SUCCESS(f"Demo data ready; every demo login uses the password '{DEMO_PASSWORD}'."))


def app_loaders() -> list:
    """`<app>.demo.load` of every installed app of ours that has a demo module, in INSTALLED_APPS order.

    Only the project's own apps (a top-level package of it): a third-party app's `demo` module is not ours
    to run.
    """
    loaders = []
    for config in apps.get_app_configs():
        ours = Path(config.path).resolve().parent == settings.BASE_DIR
        if ours and config.name != "clinics" and module_has_submodule(config.module, "demo"):
            loaders.append(importlib.import_module(f"{config.name}.demo").load)
    return loaders
