"""In a browser: a compose form left open in one tab while another tab switches clinic is refused when
sent, naming both clinics, and nothing is sent for either."""

import pytest

from clinics.models import Clinic
from messaging.models import Message

pytestmark = pytest.mark.browser


@pytest.fixture
def two_clinic_user(make_user):
    from clinics.roles import CLINIC_STAFF

    summit = Clinic.objects.create(name="Summit Physiotherapy", slug="summit", sms_sender="Summit")
    harbour = Clinic.objects.create(name="Harbour Dietetics", slug="harbour", sms_sender="Harbour")
    make_user("sam", clinics=[summit, harbour], role="manager", groups=[CLINIC_STAFF])
    return summit, harbour


def switch_to(page, clinic):
    with page.expect_navigation():
        page.select_option("#clinic-switch", label=clinic.name)  # the switcher submits on change


def test_a_form_from_before_a_clinic_switch_in_another_tab_is_refused(page, login, two_clinic_user):
    summit, harbour = two_clinic_user
    login("sam")
    switch_to(page, summit)
    page.goto("/messages/new/")
    page.fill("#id_recipient", "+61412000055")
    page.fill("#id_body", "Your appointment is on Tuesday")

    other_tab = page.context.new_page()
    other_tab.goto("/patients/")
    switch_to(other_tab, harbour)
    assert "Now working in Harbour Dietetics" in other_tab.text_content("main")

    page.click("#send")
    page.wait_for_load_state()
    refusal = page.text_content("[role=alert]")
    assert "This form was for Summit Physiotherapy; you are now working in Harbour Dietetics" in refusal
    assert not Message.objects.exists()

    # The way back: switch to the form's clinic and land on the form again, then send it there.
    with page.expect_navigation():
        page.click("text=Switch back to Summit Physiotherapy")
    assert page.url.endswith("/messages/new/")
    page.fill("#id_recipient", "+61412000055")
    page.fill("#id_body", "Your appointment is on Tuesday")
    page.click("#send")
    page.wait_for_url("**/messages/*/")
    assert Message.objects.get().clinic == summit
