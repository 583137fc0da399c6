"""In a real browser: the re-index job list follows an active job by reloading itself, but not while the
operator is choosing what to do (a ticked row and the chosen action were wiped every 5 s, so "Cancel
selected jobs" had to be done within 5 s)."""

import pytest
from playwright.sync_api import expect

from lanes.models import ReindexJob, ReindexState

pytestmark = pytest.mark.browser

JOBS = "/admin/lanes/reindexjob/"


def not_reloaded_since_marked(page) -> bool:
    return page.evaluate("window.markedBeforeReload === true")


def test_the_job_list_waits_while_a_row_is_ticked_or_an_action_chosen(page, login, ops, settings):
    settings.LANE_DASHBOARD_REFRESH_SECONDS = 1
    ReindexJob.objects.create(state=ReindexState.RUNNING, chunk_size=10, total_rows=100)
    login("olga")
    page.goto(JOBS)
    page.evaluate("window.markedBeforeReload = true")

    page.check("input.action-select")
    page.select_option("select[name=action]", "cancel")
    page.locator("body").click(position={"x": 5, "y": 5})  # no field keeps the focus
    page.wait_for_timeout(3_000)  # three refresh periods

    assert not_reloaded_since_marked(page)
    expect(page.locator("input.action-select")).to_be_checked()
    expect(page.locator("select[name=action]")).to_have_value("cancel")

    page.select_option("select[name=action]", "")
    page.wait_for_timeout(2_000)
    assert not_reloaded_since_marked(page), "a row is still ticked"

    with page.expect_navigation(timeout=5_000):
        page.uncheck("input.action-select")
        page.locator("body").click(position={"x": 5, "y": 5})
    expect(page.locator("#result_list")).to_contain_text("Running")


def test_the_job_list_waits_while_a_field_has_focus(page, login, ops, settings):
    settings.LANE_DASHBOARD_REFRESH_SECONDS = 1
    ReindexJob.objects.create(state=ReindexState.RUNNING, chunk_size=10, total_rows=100)
    login("olga")
    page.goto(JOBS)
    page.evaluate("window.markedBeforeReload = true")

    page.focus("select[name=action]")
    page.wait_for_timeout(2_500)

    assert not_reloaded_since_marked(page)


def test_the_job_list_still_follows_a_job_nobody_is_steering(page, login, ops, settings):
    settings.LANE_DASHBOARD_REFRESH_SECONDS = 1
    job = ReindexJob.objects.create(state=ReindexState.RUNNING, chunk_size=10, total_rows=100)
    login("olga")
    page.goto(JOBS)
    expect(page.locator("#result_list")).to_contain_text("Running")

    ReindexJob.objects.filter(pk=job.pk).update(state=ReindexState.DONE)

    expect(page.locator("#result_list")).to_contain_text("Done", timeout=5_000)
