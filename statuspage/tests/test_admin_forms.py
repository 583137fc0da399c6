"""Support's forms: date-time inputs that show the page's time zone, status defaulting to the incident's
current status, components grouped as on the public page, notify not ticked for backfills."""

import re

from django.urls import reverse

from statuspage import services, states
from statuspage.models import Component, Incident


def test_date_time_inputs_show_the_page_time_zone(support_client, components):
    html = support_client.get(reverse("admin:statuspage_plainincident_open")).content.decode()
    started = re.search(r'<input[^>]*name="started_at"[^>]*>', html)[0]
    assert 'type="datetime-local"' in started and "data-page-now" in started
    assert "Started at (Australia/Sydney)" in html and "UTC+1" in html  # AEST +10 or AEDT +11
    assert "statuspage/admin_form.js" in html  # unticks "Notify" for back-dated entries, from a static file
    maintenance = support_client.get(reverse("admin:statuspage_scheduledmaintenance_open")).content.decode()
    assert "From (Australia/Sydney)" in maintenance and 'type="datetime-local"' in maintenance


def test_post_update_defaults_to_the_incidents_current_status(support_client, components, open_incident):
    incident = open_incident()
    services.incident_post_update(incident=incident, status=states.MONITORING, body="Watching.")
    url = reverse("admin:statuspage_plainincident_post_update", args=[incident.pk])
    form = support_client.get(url).context["form"]
    assert form["status"].value() == states.MONITORING
    assert 'value="monitoring" selected' in support_client.get(url).content.decode()


def test_components_are_grouped_as_on_the_public_page(support_client, components):
    Component.objects.create(name="Hidden fax", only_show_if_degraded=True, position=5)
    html = support_client.get(reverse("admin:statuspage_plainincident_open")).content.decode()
    groups = re.findall(r'<fieldset class="module aligned sp-component-group">\s*<h2>([^<]+)</h2>', html)
    assert groups == ["Components", "Messaging"]  # ungrouped first, then groups, as /status/ shows them
    messaging = html[html.index("<h2>Messaging</h2>") :]
    assert messaging.index(">Email:<") < messaging.index(">SMS:<")
    assert "Hidden fax" in html  # Support can set a hidden component too
    assert "Messaging › Email" not in html


def test_backfill_is_a_choice_of_the_open_form_and_never_notifies(support_client, components):
    response = support_client.post(
        reverse("admin:statuspage_plainincident_open"),
        {"name": "Old carrier outage", "impact": "major", "status": "investigating", "body": "Down.",
         "backfill": "on", "notify": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    incident = Incident.objects.get(name="Old carrier outage")
    assert incident.is_backfill and incident.is_draft
    assert incident.updates.get().notify is False
    url = reverse("admin:statuspage_plainincident_post_update", args=[incident.pk])
    assert 'name="notify"' not in support_client.get(url).content.decode()
