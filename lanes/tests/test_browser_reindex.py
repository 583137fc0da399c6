"""In a real browser: an Operations user triggers a re-index from admin and watches its progress bar
reach 100% (a real bulk-lane cluster runs it); a Support user sees no queue operations at all."""

import pytest
from playwright.sync_api import expect

from clinics.roles import OPERATIONS, SUPPORT
from lanes.models import ReindexJob, ReindexState
from tests.support.migration_data import ensure_queueops_roles
from tests.support.seed import derived_columns, seeded

pytestmark = [pytest.mark.browser, pytest.mark.cluster]


def test_operations_start_a_reindex_and_watch_it_finish(page, login, make_user, lane_cluster, clinic_a, settings):
    settings.LANE_DASHBOARD_REFRESH_SECONDS = 1
    first, last, expected = seeded(clinic_a, 6_000)
    ensure_queueops_roles()
    make_user("olga", groups=[OPERATIONS], is_staff=True)
    lane_cluster("bulk")

    login("olga")
    page.goto("/admin/lanes/reindexjob/")
    page.get_by_role("link", name="Trigger re-index").click()
    page.select_option("#id_scope", "all")
    page.fill("#id_throttle", "2000")
    page.fill("#id_chunk_size", "500")
    page.click("input[name=_save]")

    expect(page.locator(".messagelist")).to_contain_text("Started Re-index")
    expect(page.locator('[data-percent="100.0"]')).to_be_visible(timeout=60_000)
    expect(page.locator("#result_list")).to_contain_text("Done")
    job = ReindexJob.objects.get()
    assert (job.state, job.rows_done) == (ReindexState.DONE, 6_000)
    assert derived_columns(first, last) == expected

    page.goto("/admin/lanes/lane/")
    expect(page.locator("#lane-bulk")).to_be_visible()
    expect(page.get_by_role("button", name="Pause bulk")).to_be_visible()


def test_support_cannot_see_the_reindex_controls(page, login, make_user):
    ensure_queueops_roles()
    make_user("sam", groups=[SUPPORT], is_staff=True)

    login("sam")
    page.goto("/admin/")
    expect(page.locator("#content")).to_be_visible()
    expect(page.get_by_role("link", name="Re-index jobs")).to_have_count(0)
    expect(page.get_by_role("link", name="Lanes")).to_have_count(0)

    response = page.goto("/admin/lanes/reindexjob/add/")
    assert response.status == 403
    response = page.goto("/admin/lanes/lane/")
    assert response.status == 403
