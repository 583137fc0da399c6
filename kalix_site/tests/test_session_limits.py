"""Sessions suited to shared clinic computers: signed out after SESSION_IDLE_MINUTES without a request
and SESSION_MAX_HOURS after signing in, whatever happens, and the cookie ends with the browser."""

from datetime import timedelta

from django.utils import timezone

from kalix_site.sessions import SEEN_KEY, STARTED_KEY


def age(client, key, by: timedelta):
    session = client.session
    session[key] = (timezone.now() - by).timestamp()
    session.save()


def test_an_idle_session_is_signed_out(client, staff_a, settings):
    settings.SESSION_IDLE_MINUTES = 30
    client.force_login(staff_a)
    assert client.get("/patients/").status_code == 200
    age(client, SEEN_KEY, timedelta(minutes=31))
    response = client.get("/patients/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session


def test_activity_keeps_a_session_but_not_beyond_its_maximum(client, staff_a, settings):
    settings.SESSION_IDLE_MINUTES = 30
    settings.SESSION_MAX_HOURS = 10
    client.force_login(staff_a)
    client.get("/patients/")
    age(client, SEEN_KEY, timedelta(minutes=29))
    assert client.get("/patients/").status_code == 200
    age(client, STARTED_KEY, timedelta(hours=10, minutes=1))
    assert client.get("/patients/").status_code == 302


def test_the_cookie_ends_with_the_browser_and_lasts_at_most_the_maximum(settings):
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert settings.SESSION_COOKIE_AGE == settings.SESSION_MAX_HOURS * 3600
    assert settings.SESSION_MAX_HOURS <= 12 and settings.SESSION_IDLE_MINUTES <= 30
