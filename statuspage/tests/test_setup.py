"""What migrations and the demo set up: schedules on the live lane, Support's grants, demo data."""

from django.contrib.auth.models import Group
from django_q.models import Schedule

from clinics.roles import SUPPORT
from statuspage import demo
from statuspage.models import Component, ComponentGroup, Incident


def test_schedules_run_on_the_live_lane(db):
    funcs = dict(Schedule.objects.filter(name__startswith="statuspage:").values_list("func", "cluster"))
    assert funcs == {
        "statuspage.services.maintenance_tick": "live",
        "statuspage.notify.deliver_due": "live",
        "statuspage.queue_monitor.measure": "live",
    }


def test_support_manages_the_status_page_but_not_queues(db):
    perms = set(Group.objects.get(name=SUPPORT).permissions.values_list("content_type__app_label", "codename"))
    for model in ("component", "plainincident", "scheduledmaintenance", "incidenttemplate", "subscriber"):
        assert ("statuspage", f"change_{model}") in perms
    assert not {p for p in perms if p[0] in ("django_q", "messaging", "lanes")}


def test_demo_load_is_idempotent(db):
    demo.load()
    demo.load()
    assert ComponentGroup.objects.count() == 3
    assert Component.objects.filter(name="SMS").count() == 1
    incident = Incident.objects.get(name=demo.DEMO_INCIDENT)
    assert incident.status == "resolved" and incident.updates.count() == 4
