"""`manage.py demo` loads the demo clinics, staff and patients, then every app's own demo data, which the
command finds through django.apps (clinics names no domain app); it says one line and can run again."""

from io import StringIO

import pytest
from django.core.management import call_command

from billing import demo as billing_demo
from billing.models import Invoice, Payer
from clinics.management.commands.demo import app_loaders
from clinics.models import Clinic, Patient
from messaging import demo as messaging_demo
from messaging.models import Message
from statuspage import demo as statuspage_demo
from statuspage.models import Component, Incident

pytestmark = pytest.mark.django_db

MODELS = (Clinic, Patient, Message, Payer, Invoice, Component, Incident)  # one of each app's demo data
READY = "Demo data ready; every demo login uses the password 'kalix-demo'.\n"


def test_every_installed_app_with_a_demo_module_offers_its_loader_in_installed_apps_order():
    assert app_loaders() == [messaging_demo.load, billing_demo.load, statuspage_demo.load]


def test_the_demo_loads_every_apps_data_says_one_line_and_loads_nothing_twice():
    out = StringIO()
    call_command("demo", stdout=out)
    assert out.getvalue() == READY
    counts = [m.objects.count() for m in MODELS]
    assert all(counts), dict(zip([m.__name__ for m in MODELS], counts, strict=True))
    assert Incident.objects.filter(name=statuspage_demo.DEMO_INCIDENT).exists()

    again = StringIO()
    call_command("demo", stdout=again)
    assert again.getvalue() == READY
    assert [m.objects.count() for m in MODELS] == counts
