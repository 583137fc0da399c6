"""Every login form (the staff one and the admin's) is protected by django-axes: the username at one
address is locked after LOGIN_FAILURE_LIMIT failures, the account from anywhere after
LOGIN_ACCOUNT_FAILURE_LIMIT, one address for every username after LOGIN_ADDRESS_FAILURE_LIMIT; a locked
login gets the styled lockout page (429), even with the right password, until the cool-off passes or
someone unlocks it in admin."""

import pytest
from axes.models import AccessAttempt

from tests.support.fixtures.tenancy import PASSWORD

FORMS = ["/accounts/login/", "/admin/login/"]
CLINIC_ROUTER = "203.0.113.7"


@pytest.fixture
def limits(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 6
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 9
    return settings


def attempt(client, form, username, typed="wrong", ip=CLINIC_ROUTER):
    client.cookies.clear()
    return client.post(form, {"username": username, "password": typed}, REMOTE_ADDR=ip)


def logged_in(response) -> bool:
    return response.status_code == 302 and "sessionid" in response.cookies


@pytest.fixture
def alice_admin(make_user):
    return make_user("alice", is_staff=True, is_superuser=True)


@pytest.mark.parametrize("form", FORMS)
def test_a_username_is_locked_at_its_address_after_the_limit_even_with_the_right_password(
    client, form, alice_admin, limits
):
    answers = [attempt(client, form, "alice").status_code for _ in range(3)]
    assert answers[:2] == [200, 200] and answers[2] == 429
    locked = attempt(client, form, "alice", PASSWORD)
    assert locked.status_code == 429 and not logged_in(locked)
    page = locked.content.decode()
    assert "Too many failed log-ins" in page
    assert 'class="topbar"' in page and "kalix.css" in page  # the site's own page, not axes' plain text
    assert "15 minutes" in page


def test_one_persons_typos_do_not_lock_the_rest_of_the_clinic_behind_the_same_router(client, make_user, limits):
    make_user("alice")
    make_user("bob")
    for _ in range(3):
        attempt(client, "/accounts/login/", "alice")
    assert attempt(client, "/accounts/login/", "alice", PASSWORD).status_code == 429
    assert logged_in(attempt(client, "/accounts/login/", "bob", PASSWORD))
    # and alice herself, from the computer at home, is not locked out yet
    assert logged_in(attempt(client, "/accounts/login/", "alice", PASSWORD, ip="198.51.100.20"))


def test_the_account_is_locked_from_anywhere_after_the_account_limit(client, make_user, limits):
    make_user("alice")
    for n in range(6):
        attempt(client, "/admin/login/" if n % 2 else "/accounts/login/", "alice", ip=f"198.51.100.{n}")
    assert attempt(client, "/accounts/login/", "alice", PASSWORD, ip="192.0.2.99").status_code == 429


def test_an_address_that_tries_many_usernames_is_locked_for_all_of_them(client, make_user, limits):
    make_user("carol")
    for n in range(9):
        attempt(client, "/accounts/login/", f"guess{n}")
    assert attempt(client, "/accounts/login/", "carol", PASSWORD).status_code == 429
    assert logged_in(attempt(client, "/accounts/login/", "carol", PASSWORD, ip="192.0.2.1"))


def test_a_successful_login_forgets_that_persons_own_typos_there(client, make_user, limits):
    make_user("alice")
    for _ in range(2):
        attempt(client, "/accounts/login/", "alice")
    assert logged_in(attempt(client, "/accounts/login/", "alice", PASSWORD))
    assert [attempt(client, "/accounts/login/", "alice").status_code for _ in range(2)] == [200, 200]


@pytest.mark.parametrize("who", ["superuser", "support"])
def test_a_lockout_is_lifted_from_admin(client, make_user, support, limits, who):
    make_user("alice")
    for _ in range(3):
        attempt(client, "/accounts/login/", "alice")
    assert attempt(client, "/accounts/login/", "alice", PASSWORD).status_code == 429

    unlocker = support if who == "support" else make_user("root", is_staff=True, is_superuser=True)
    admin = type(client)()
    admin.force_login(unlocker)
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "alice" in listing.content.decode()
    ids = [str(pk) for pk in AccessAttempt.objects.filter(username="alice").values_list("pk", flat=True)]
    confirm = admin.post(
        "/admin/axes/accessattempt/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    )
    assert confirm.status_code == 302
    assert not AccessAttempt.objects.filter(username="alice").exists()
    assert logged_in(attempt(client, "/accounts/login/", "alice", PASSWORD))


def test_operations_cannot_see_or_lift_lockouts(client, ops):
    client.force_login(ops)
    assert client.get("/admin/axes/accessattempt/").status_code == 403


def test_a_failed_attempt_keeps_no_search_terms_from_the_page_it_came_from(client, make_user, limits):
    make_user("alice")
    client.post(
        "/accounts/login/?next=/patients/%3Fq%3DOlivia",
        {"username": "alice", "password": "wrong", "next": "/patients/?q=Olivia"},
        REMOTE_ADDR=CLINIC_ROUTER,
    )
    attempt_row = AccessAttempt.objects.get(username="alice")
    assert "Olivia" not in attempt_row.get_data + attempt_row.post_data


@pytest.mark.browser
@pytest.mark.parametrize("form", FORMS)
def test_in_the_browser_the_lockout_page_is_the_sites_own(page, make_user, settings, form):
    settings.LOGIN_FAILURE_LIMIT = 2
    make_user("alice", is_staff=True)
    for _ in range(2):
        page.goto(form)
        page.fill("#id_username", "alice")
        page.fill("#id_password", "wrong")
        page.click("[type=submit]")
        page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Too many failed log-ins"
    assert page.locator("header.topbar .brand").is_visible()


@pytest.mark.parametrize("form", FORMS)
def test_a_username_longer_than_any_account_is_counted_not_a_500(client, form, limits, db):
    huge = "m" * 1_000_000  # axes keeps the username in a varchar(255): it was a DataError
    answers = [attempt(client, form, huge).status_code for _ in range(3)]
    assert answers == [200, 200, 429]
