import pytest

from statuspage import cache, services, states


@pytest.fixture(autouse=True)
def fresh_generation(settings):
    """Each test sees its own writes at once (the generation is re-read on every request)."""
    settings.STATUSPAGE_GENERATION_CHECK_SECONDS = 0
    settings.STATUSPAGE_URL = "http://status.test"
    cache.forget()
    from django.core.cache import caches

    caches["default"].clear()
    yield
    cache.forget()


@pytest.fixture
def components(db):
    from statuspage.models import Component, ComponentGroup

    messaging = ComponentGroup.objects.create(name="Messaging", position=0)
    return {
        "email": Component.objects.create(
            name="Email", group=messaging, position=0, lane="live", staff_path="/messages/"
        ),
        "sms": Component.objects.create(name="SMS", group=messaging, position=1),
        "api": Component.objects.create(name="API", position=2),
    }


@pytest.fixture
def support(make_user):
    from clinics.roles import SUPPORT

    return make_user("sam", groups=[SUPPORT], is_staff=True)


@pytest.fixture
def open_incident(components):
    def make(**kwargs):
        defaults = {
            "name": "Email delays",
            "status": states.INVESTIGATING,
            "body": "We are looking into it.",
            "components": {components["email"]: states.DEGRADED_PERFORMANCE},
        }
        return services.incident_open(**{**defaults, **kwargs})

    return make
