"""Acceptance (issue 17), in Chromium: Support backfill a real past incident through the admin, five
updates over 7 days 4 hours, years ago. Never shown active, no notice, current statuses unchanged, its
month's history lists it, "lasting 7d 4h", the feed's `updated` are the updates' times, the API's
times are the incident's own. The same incident through the write API gives the same pages."""

import re
from calendar import timegm

import feedparser
import pytest
import requests
from django.utils import timezone
from rest_framework.authtoken.models import Token

from statuspage import selectors, v2
from statuspage.models import Component, ComponentStatusChange, Incident, Notice, Subscriber

pytestmark = pytest.mark.browser


def local(dt) -> str:
    return dt.astimezone(selectors.page_zone()).strftime("%Y-%m-%dT%H:%M")


def public_view(browser, live_server, incident_pk: int) -> dict:
    """What a new reader (empty browser cache) reads about one incident, page by page."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 375, "height": 740})
    reader = context.new_page()
    reader.goto(f"/status/incidents/{incident_pk}/")
    facts = reader.locator(".sp-facts").inner_text()
    timeline = reader.locator(".sp-timeline").inner_text()
    month_link = reader.locator("a.sp-month-link").get_attribute("href")
    reader.goto(month_link)
    listed = reader.locator("main").inner_text()
    context.close()
    return {"facts": facts, "timeline": timeline, "month": month_link, "listed": listed}


def assert_never_active(reader, name: str, sms_status: str) -> None:
    reader.goto("/status/")
    main = reader.locator("main").inner_text()
    assert "Active incidents" not in main and "ongoing" not in main and name not in main.split("Recently")[0]
    assert reader.locator("h1").inner_text() == "All Systems Operational"
    sms = Component.objects.get(name="SMS")
    assert sms.status == sms_status


def test_backfill_through_the_admin_and_the_write_api(browser, page, login, live_server, support, past_timeline):
    Subscriber.objects.create(email="pat@example.com", confirmed_at=timezone.now())
    sms, email = Component.objects.get(name="SMS"), Component.objects.get(name="Email")
    public = browser.new_context(base_url=live_server.url, viewport={"width": 375, "height": 740})
    reader = public.new_page()

    login("sam")
    first, *rest = past_timeline
    page.goto("/admin/statuspage/plainincident/add/")
    page.fill("#id_name", "Carrier outage")
    page.select_option("#id_impact", "major")
    page.select_option("#id_status", first["status"])
    page.fill("#id_body", first["body"])
    page.fill("#id_started_at", local(first["display_at"]))
    page.check("#id_backfill")
    assert not page.is_checked("#id_notify")  # never ticked for a backfill
    for component, status in first["components"].items():
        page.select_option(f"#id_component_{component.pk}", status)
    page.click("input[type=submit][value='Open incident']")
    page.wait_for_selector("text=opened")
    incident = Incident.objects.get(name="Carrier outage")
    assert page.locator("text=Backfill draft").count() == 1

    for update in rest:
        page.click("text=Post update")
        assert page.locator("#id_status").input_value() == Incident.objects.get(pk=incident.pk).status
        page.select_option("#id_status", update["status"])
        page.fill("#id_body", update["body"])
        page.fill("#id_display_at", local(update["display_at"]))
        for component, status in update["components"].items():
            page.select_option(f"#id_component_{component.pk}", status)
        page.click("input[type=submit][value='Post update']")
        page.wait_for_selector("text=Update posted")
        assert reader.goto(f"/status/incidents/{incident.pk}/").status == 404  # a draft: not public
        assert_never_active(reader, "Carrier outage", "operational")

    page.click("text=Preview as the public will see it")
    assert page.locator(".sp-duration").inner_text() == "lasting 7d 4h"
    page.go_back()
    page.click("input[type=submit][value='Publish resolved incident']")
    page.wait_for_selector("text=Published")

    assert_never_active(reader, "Carrier outage", "operational")
    assert not Notice.objects.filter(purpose="update").exists()
    assert not ComponentStatusChange.objects.exists()  # current component statuses never moved
    admin_view = public_view(browser, live_server, incident.pk)
    assert "lasting 7d 4h" in admin_view["facts"]
    assert "Carrier outage" in admin_view["listed"]
    started = first["display_at"].astimezone(selectors.page_zone())
    assert admin_view["month"] == f"/status/history/{started.year}/{started.month}/"

    feed = feedparser.parse(requests.get(f"{live_server.url}/status/feed.atom", timeout=10).content)
    assert not feed.bozo
    entry_times = sorted(timegm(e.updated_parsed) for e in feed.entries if "Carrier outage" in e.title)
    assert entry_times == [int(u["display_at"].timestamp()) for u in past_timeline]

    api = requests.get(f"{live_server.url}/api/v2/incidents.json", timeout=10).json()["incidents"]
    (listed,) = [i for i in api if i["id"] == str(incident.pk)]
    assert listed["started_at"] == listed["created_at"] == v2.iso(first["display_at"])
    assert listed["resolved_at"] == listed["updated_at"] == v2.iso(rest[-1]["display_at"])
    assert sorted(u["created_at"] for u in listed["incident_updates"]) == [
        v2.iso(u["display_at"]) for u in past_timeline
    ]

    # The same incident through the write API, as a chat bot would enter it.
    token = Token.objects.create(user=support).key
    response = requests.post(
        f"{live_server.url}/api/v1/pages/kalix/incidents",
        json={"incident": {"name": "Carrier outage", "impact_override": "major", "backfilled": True,
                           "incident_updates": [
                               {"status": u["status"], "body": u["body"], "display_at": u["display_at"].isoformat(),
                                "components": {str(c.pk): s for c, s in u["components"].items()}}
                               for u in past_timeline]}},
        headers={"Authorization": f"Token {token}"},
        timeout=10,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    api_view = public_view(browser, live_server, int(response.json()["id"]))
    assert api_view["facts"] == admin_view["facts"] and api_view["timeline"] == admin_view["timeline"]
    assert api_view["month"] == admin_view["month"]
    assert len(re.findall("Carrier outage", api_view["listed"])) == 2  # both in the month's history
    assert_never_active(reader, "Carrier outage", "operational")
    assert sms.status == email.status == "operational"
    assert not Notice.objects.filter(purpose="update").exists()
    public.close()
