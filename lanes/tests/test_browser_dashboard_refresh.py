"""In a real browser: the queue dashboard refreshes its figures in place every few seconds, but a value
typed into one of its boxes stays (it was lost at the next refresh once the box lost the focus)."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

DASHBOARD = "/admin/lanes/lane/"


def mark(page) -> None:
    """A child of the refreshed box: a refresh replaces it."""
    page.evaluate("document.getElementById('lanes-dashboard').insertAdjacentHTML('afterbegin', '<i id=marker></i>')")


def test_a_typed_share_survives_the_refresh_after_the_box_loses_the_focus(page, login, ops, settings):
    settings.LANE_DASHBOARD_REFRESH_SECONDS = 1
    login("olga")
    page.goto(DASHBOARD)
    share = page.locator("input[name=share]").first
    share.fill("0.5")
    page.locator("h1, #content").first.click(position={"x": 2, "y": 2})  # the box loses the focus
    mark(page)
    page.wait_for_timeout(3_000)  # three refresh periods

    expect(page.locator("#marker")).to_have_count(1)
    expect(share).to_have_value("0.5")


def test_the_figures_still_refresh_when_nothing_is_typed(page, login, ops, settings):
    settings.LANE_DASHBOARD_REFRESH_SECONDS = 1
    login("olga")
    page.goto(DASHBOARD)
    mark(page)
    expect(page.locator("#marker")).to_have_count(0, timeout=5_000)
