"""Fixtures shared by every app's tests: two clinics with staff, logged-in clients, a browser.

Also the test run's start-up: the embedded PostgreSQL (when DATABASE_URL is unset) is started here,
before any test connects, since settings only say where it listens.
"""

import os
import shutil
from pathlib import Path

import pytest

PASSWORD = "correct-horse-battery-staple"


def pytest_configure(config):
    if os.environ.get("DATABASE_URL"):
        return
    from django.conf import settings

    from kalix_site.embedded_db import start

    # pytest-django read the settings before this conftest was loaded; nothing has connected yet, so
    # the connection settings can still be brought in line with the server as started (they differ
    # only for a data directory too long for a socket path that did not exist until now).
    settings.DATABASES["default"].update(start(Path(__file__).resolve().parent))


def pytest_collection_modifyitems(config, items):
    """Mark tests by the fixtures they use, so `make test-fast` (-m "not browser and not cluster")
    leaves out every test that drives Chromium or starts a django-q2 cluster, marked by hand or not."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & {"browser", "page", "login"}:
            item.add_marker(pytest.mark.browser)
        if "lane_cluster" in fixtures:
            item.add_marker(pytest.mark.cluster)


@pytest.fixture
def make_user(django_user_model):
    def make(username, *, clinics=(), role="practitioner", groups=(), **extra):
        from django.contrib.auth.models import Group

        from clinics.models import StaffMembership
        from kalix_site.testing import restore_migration_data

        user = django_user_model.objects.create_user(username=username, password=PASSWORD, **extra)
        for clinic in clinics:
            StaffMembership.objects.create(user=user, clinic=clinic, role=role)
        if groups:
            if Group.objects.filter(name__in=groups).count() < len(set(groups)):
                # A transactional test before this one flushed them. Only the groups and grants are
                # wanted: schedules brought back due at once would add tasks to this test's clusters.
                from django_q.models import Schedule

                schedules = list(Schedule.objects.values_list("pk", flat=True))
                restore_migration_data()
                Schedule.objects.exclude(pk__in=schedules).delete()
            found = Group.objects.filter(name__in=groups)
            # A user silently left without its group would make every "this role cannot" test pass
            # for the wrong reason.
            assert {g.name for g in found} == set(groups), f"no such groups: {groups}"
            user.groups.set(found)
        return user

    return make


@pytest.fixture
def clinic_a(db):
    from clinics.models import Clinic

    return Clinic.objects.create(
        name="Alpha Dietetics",
        slug="alpha",
        timezone="Australia/Sydney",
        email_from="alpha@clinic.example",
        sms_sender="AlphaDiet",
    )


@pytest.fixture
def clinic_b(db):
    from clinics.models import Clinic

    return Clinic.objects.create(
        name="Beta Physio",
        slug="beta",
        timezone="Australia/Perth",
        email_from="beta@clinic.example",
        sms_sender="BetaPhysio",
    )


@pytest.fixture
def staff_a(make_user, clinic_a):
    from clinics.roles import CLINIC_STAFF

    return make_user("alice", clinics=[clinic_a], groups=[CLINIC_STAFF])


@pytest.fixture
def staff_b(make_user, clinic_b):
    from clinics.roles import CLINIC_STAFF

    return make_user("bob", clinics=[clinic_b], groups=[CLINIC_STAFF])


@pytest.fixture
def client_a(client, staff_a):
    client.force_login(staff_a)
    return client


@pytest.fixture
def patient_a(clinic_a):
    from clinics.services import patient_create

    return patient_create(
        clinic=clinic_a,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        mobile="+61412000001",
        messaging_consent="opted_in",
    )


@pytest.fixture
def patient_b(clinic_b):
    from clinics.services import patient_create

    return patient_create(
        clinic=clinic_b,
        first_name="Grace",
        last_name="Hopper",
        email="grace@example.com",
        mobile="+61412000002",
        messaging_consent="opted_in",
    )


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, driven by Playwright; Playwright never downloads a browser of its own."""
    executable = chromium_path()
    if executable is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def login(page):
    def do_login(username, password=PASSWORD):
        page.goto("/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()

    return do_login


@pytest.fixture
def lane_cluster(transactional_db):
    """Start real django-q2 clusters (one per call) against the test database; stopped afterwards."""
    from kalix_site.testing import Cluster

    started = []

    def start(lane, **kwargs):
        cluster = Cluster(lane, **kwargs)
        started.append(cluster)
        cluster.wait_alive()
        return cluster

    yield start
    for cluster in started:
        cluster.stop()
