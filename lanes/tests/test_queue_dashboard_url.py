from clinics.roles import CLINIC_STAFF, OPERATIONS, SUPPORT


def test_admin_lanes_is_the_dashboard_for_operations_only(client, make_user):
    client.force_login(make_user("oscar", groups=[OPERATIONS], is_staff=True))
    page = client.get("/admin/lanes/")
    assert page.status_code == 200
    assert 'id="lane-live"' in page.content.decode() and 'id="lane-bulk"' in page.content.decode()

    for name, groups in (("sue", [SUPPORT]), ("carl", [CLINIC_STAFF])):
        client.force_login(make_user(name, groups=groups, is_staff=True))
        assert client.get("/admin/lanes/").status_code == 403


def test_admin_lanes_asks_anonymous_users_to_log_in(client, db):
    response = client.get("/admin/lanes/")
    assert response.status_code == 302 and "/admin/login/" in response.url
