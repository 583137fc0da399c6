"""The site's icon: /favicon.ico answers from the site root (browsers ask for it whatever a page says, and
a 404 shows in their consoles), and every base template (staff pages, the public status page, the login
page, the admin) names an icon that answers, both served by whitenoise."""

import re

import pytest

pytestmark = pytest.mark.django_db

ICO_HEADER = b"\x00\x00\x01\x00"  # reserved 0, type 1 (icon)


def test_favicon_ico_answers_from_the_site_root(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert b"".join(response.streaming_content).startswith(ICO_HEADER)


@pytest.mark.parametrize(
    "who, url", [("staff_a", "/patients/"), (None, "/status/"), (None, "/accounts/login/"), ("admin_user", "/admin/")]
)
def test_every_base_template_names_an_icon_that_answers(client, request, settings, fresh_generation, who, url):
    settings.WHITENOISE_USE_FINDERS = True  # tests run without collectstatic; whitenoise finds static/ itself
    if who:
        client.force_login(request.getfixturevalue(who))
    html = client.get(url).content.decode()
    icons = re.findall(r'<link rel="icon"[^>]* href="([^"]+)"', html)
    assert icons, f"no icon on {url}"
    for icon in icons:
        answer = client.get(icon)
        assert answer.status_code == 200, icon
        assert answer["Content-Type"].startswith("image/"), icon
