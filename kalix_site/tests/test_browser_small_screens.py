"""In a browser at 360 px (a small phone): no staff page scrolls sideways; cancelling a message asks
first; Support and Operations land on their own pages after logging in."""

import pytest

from messaging.models import Dispatch, Message
from messaging.services import message_send

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}


def page_width(page) -> int:
    return page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")


def test_no_staff_page_scrolls_sideways_at_360_px(page, login, staff_a, clinic_a, patient_a):
    for i in range(3):
        message_send(
            clinic=clinic_a,
            patient=patient_a,
            channel="email",
            subject=f"Your appointment summary and invoice number {i}",
            body="A long text " * 40,
        )
    message = message_send(
        clinic=clinic_a,
        recipient="someone.with.a.very.long.address@example-clinic.com.au",
        channel="email",
        subject="x" * 120,
        body="y" * 300,
    )
    page.set_viewport_size(PHONE)
    login("alice")
    pages = [
        "/patients/",
        f"/patients/{patient_a.pk}/",
        f"/patients/{patient_a.pk}/edit/",
        "/patients/new/",
        "/messages/",
        "/messages/new/",
        f"/messages/{message.pk}/",
        "/messages/?q=appointment",
        "/patients/999999/",
    ]
    wide = {}
    for url in pages:
        page.goto(url)
        width = page_width(page)
        if width > PHONE["width"]:
            wide[url] = width
    assert wide == {}


def test_cancelling_a_message_asks_first(page, login, staff_a, clinic_a, patient_a, ops):
    from lanes.controls import lane_pause
    from lanes.pokes import LIVE

    lane_pause(lane=LIVE, reason="test: nothing may hand it off", actor=ops)
    message = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Hello")
    page.set_viewport_size(PHONE)
    login("alice")
    page.goto(f"/messages/{message.pk}/")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("#cancel-form button")
    assert asked == ["Cancel this message? It will not be sent."]
    message.refresh_from_db()
    assert message.dispatch == Dispatch.QUEUED

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("#cancel-form button")
    assert Message.objects.get(pk=message.pk).status == "cancelled"


@pytest.mark.parametrize("who, lands_on", [("support", "/admin/statuspage/"), ("ops", "/admin/lanes/")])
def test_support_and_operations_land_on_their_own_pages(page, login, request, who, lands_on):
    user = request.getfixturevalue(who)
    login(user.username)
    assert page.url.endswith(lands_on)
    assert page.locator("text=not on the staff").count() == 0
