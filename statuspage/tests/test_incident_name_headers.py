"""An incident's name is the subject of every subscriber email: a CR or LF in it is a field error (the
service, the admin's open and change forms), and a name that got in before still sends one-line subjects."""

import pytest
from django.core.exceptions import ValidationError

from statuspage import notify, services, states
from statuspage.models import Incident, Notice, Subscriber

pytestmark = pytest.mark.django_db

BROKEN = "Email delays\r\nBcc: everyone@example.com"


def test_the_service_refuses_a_name_with_a_line_break(components):
    with pytest.raises(ValidationError) as refused:
        services.incident_open(name=BROKEN, status=states.INVESTIGATING, body="Looking.")
    assert "name" in refused.value.message_dict
    assert not Incident.objects.exists()


def test_renaming_to_a_line_break_is_refused(open_incident):
    incident = open_incident()
    with pytest.raises(ValidationError):
        services.incident_edit(incident=incident, name=BROKEN, impact=incident.impact, postmortem_body="")
    incident.refresh_from_db()
    assert incident.name == "Email delays"


def test_the_admin_forms_show_it_on_the_name(client, support, open_incident, components):
    client.force_login(support)
    response = client.post(
        "/admin/statuspage/plainincident/open/",
        {"name": BROKEN, "status": states.INVESTIGATING, "impact": states.IMPACT_MINOR, "body": "Looking."},
    )
    assert response.status_code == 200
    assert "line breaks" in str(response.context["form"].errors["name"])
    incident = open_incident()
    response = client.post(
        f"/admin/statuspage/plainincident/{incident.pk}/change/",
        {"name": BROKEN, "impact": states.IMPACT_MINOR, "postmortem_body": ""},
    )
    assert response.status_code == 200
    assert "line breaks" in response.content.decode()
    incident.refresh_from_db()
    assert incident.name == "Email delays"


def test_a_name_stored_before_the_check_still_gives_one_line_subjects(open_incident, smtp_server, settings):
    subscriber = Subscriber.objects.create(email="watcher@example.com", confirmed_at="2026-01-01T00:00Z")
    incident = open_incident()
    Incident.objects.filter(pk=incident.pk).update(name=BROKEN)
    services.incident_post_update(
        incident=Incident.objects.get(pk=incident.pk), status=states.IDENTIFIED, body="Found."
    )
    notify.deliver_due()
    notice = Notice.objects.filter(subscriber=subscriber).order_by("-pk").first()
    assert notice.state == Notice.SENT, notice.last_error
    assert all("Bcc" not in m.get("Bcc", "") for m in smtp_server.received)
    assert any("Email delays Bcc: everyone@example.com" in m["Subject"] for m in smtp_server.received)
