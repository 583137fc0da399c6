"""kalix_site.links: every link we send out is built from one public base URL, KALIX_PUBLIC_URL."""

from django.urls import reverse

from kalix_site.links import absolute_url
from messaging.providers import SimulatedCarrier
from statuspage import notify, services, states
from statuspage.feed import IncidentFeed
from statuspage.models import Component
from tests.support.processes import run_manage


def test_a_path_or_a_url_name_is_made_absolute_on_the_public_base(settings):
    settings.PUBLIC_URL = "https://kalix.example/"  # a trailing slash does not double
    assert absolute_url("/status/") == "https://kalix.example/status/"
    assert absolute_url("statuspage:incident", 7) == "https://kalix.example/status/incidents/7/"
    assert absolute_url("messaging:webhook-sim") == "https://kalix.example" + reverse("messaging:webhook-sim")


def test_one_setting_gives_the_base_of_carrier_callbacks_status_emails_the_feed_and_the_api(client, settings, db):
    """There were two settings for one public base (MESSAGING_PUBLIC_URL for the carriers' callbacks,
    STATUSPAGE_URL for the status page's links), and four ways of joining a path to them."""
    settings.PUBLIC_URL = "https://kalix.example"
    settings.STATUSPAGE_GENERATION_CHECK_SECONDS = 0
    assert SimulatedCarrier().callback_url() == "https://kalix.example/messages/webhooks/sim/"

    component = Component.objects.create(name="Email")
    subscriber = services.subscriber_confirm(token=services.subscriber_add(email="pat@example.com").token)
    incident = services.incident_open(
        name="Email delays", status=states.INVESTIGATING, body="Looking.", components={component: "major_outage"}
    )
    notice = subscriber.notices.get(incident=incident)
    _, body = notify.email_content(notice)
    assert f"https://kalix.example/status/incidents/{incident.pk}/" in body
    assert f"https://kalix.example/status/unsubscribe/{subscriber.token}/" in body

    feed = IncidentFeed()
    assert (feed.link(), feed.feed_url()) == ("https://kalix.example/status/", "https://kalix.example/status/feed.atom")
    update = incident.updates.get()
    assert feed.item_link(update) == f"https://kalix.example/status/incidents/{incident.pk}/#update-{update.pk}"

    api = client.get("/api/v2/incidents.json").json()
    assert api["page"]["url"] == "https://kalix.example/status/"  # the status page itself (issue 17)
    assert api["incidents"][0]["shortlink"] == f"https://kalix.example/status/incidents/{incident.pk}/"


READ = "from django.conf import settings as s; print(s.PUBLIC_URL)"


def test_statuspage_url_is_still_read_as_the_public_base_with_a_warning(db):
    result = run_manage("shell", "-c", READ, STATUSPAGE_URL="https://old.example")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "https://old.example"
    assert "STATUSPAGE_URL is a renamed variable: set KALIX_PUBLIC_URL instead" in result.stderr

    both = run_manage("shell", "-c", READ, STATUSPAGE_URL="https://old.example", KALIX_PUBLIC_URL="https://new.example")
    assert both.stdout.strip().splitlines()[-1] == "https://new.example"
