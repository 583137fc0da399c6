"""Uptime and bars from the status log and the incidents as intervals: one figure everywhere, and
"no data" only before a component existed."""

from datetime import datetime, time, timedelta

from django.utils import timezone

from statuspage import selectors, services, states
from statuspage.models import ComponentStatusChange


def backfill(name, updates):
    first, *rest = updates
    incident = services.incident_open(
        name=name, status=first["status"], body=first["body"], components=first["components"],
        started_at=first["display_at"], backfill=True,
    )  # fmt: skip
    for update in rest:
        services.incident_post_update(incident=incident, **update)
    return services.incident_publish(incident=incident)


def test_a_backfilled_incident_files_its_statuses_in_the_bars_at_their_own_times(client, components):
    sms = components["sms"]
    zone = selectors.page_zone()
    today = timezone.now().astimezone(zone).date()
    noon = datetime.combine(today - timedelta(days=10), time(12), tzinfo=zone)
    backfill(
        "Carrier outage",
        [
            {"status": "investigating", "body": "Down.", "display_at": noon, "components": {sms: "major_outage"}},
            {
                "status": "resolved", "body": "Up.", "display_at": noon + timedelta(hours=6),
                "components": {sms: "operational"},
            },
        ],
    )  # fmt: skip
    bar = selectors.uptime([sms], days=90)[sms.pk]
    day = bar.days[-11]
    assert day.day == today - timedelta(days=10)
    assert day.status == states.MAJOR_OUTAGE and day.down_seconds == 6 * 3600
    # It existed from its first incident on (created today in this test): no "no data" from then on.
    assert [d.day for d in bar.days if d.status is None] == [d.day for d in bar.days[:-11]]
    assert all(d.status == states.OPERATIONAL for d in bar.days[-10:])
    assert bar.percent < 100 and bar.label == f"{bar.percent:.2f}%"

    html = client.get("/status/").content.decode()
    assert f"{bar.label} uptime" in html  # the same figure on the page ...
    assert day.label in html and f"{day.percent:.2f}% uptime" in day.label  # ... and in that day's tooltip
    assert f'title="{bar.label} uptime over 90 days"' in html  # ... and on the whole bar


def test_no_data_only_before_the_component_existed(components):
    sms = components["sms"]
    sms.created_at = timezone.now() - timedelta(days=3)
    sms.save(update_fields=["created_at"])
    bar = selectors.uptime([sms], days=10)[sms.pk]
    assert [d.status is None for d in bar.days] == [True] * 6 + [False] * 4
    sms.start_date = (timezone.now() - timedelta(days=30)).date()
    sms.save(update_fields=["start_date"])
    bar = selectors.uptime([sms], days=10)[sms.pk]
    assert all(d.status is not None for d in bar.days)


def test_today_is_red_while_the_log_says_so_even_after_a_back_dated_entry(components, open_incident):
    sms = components["sms"]
    open_incident(name="SMS", components={sms: states.PARTIAL_OUTAGE}, started_at=timezone.now() - timedelta(days=400))
    sms.refresh_from_db()
    assert sms.status == states.PARTIAL_OUTAGE
    change = ComponentStatusChange.objects.get(component=sms)
    assert change.changed_at.date() == timezone.now().date()  # filed under today, not the old year
    bar = selectors.uptime([sms], days=90)[sms.pk]
    assert bar.days[-1].status == states.PARTIAL_OUTAGE
    assert bar.percent < 100


def test_a_short_downtime_never_rounds_up_to_100_percent(components):
    api = components["api"]
    api.created_at = timezone.now() - timedelta(days=200)
    api.save(update_fields=["created_at"])
    ComponentStatusChange.objects.create(
        component=api, old_status="operational", new_status="major_outage", base_status="major_outage",
        source="manual", changed_at=timezone.now() - timedelta(days=2),
    )  # fmt: skip
    ComponentStatusChange.objects.create(
        component=api, old_status="major_outage", new_status="operational", base_status="operational",
        source="manual", changed_at=timezone.now() - timedelta(days=2) + timedelta(seconds=20),
    )  # fmt: skip
    bar = selectors.uptime([api], days=90)[api.pk]
    assert bar.percent == 99.99 and bar.label == "99.99%"
