"""The API root links each collection to the API, never to the staff page of the same name (the router's
names, patient-list and billing-invoice-list, are the staff pages' names too: the API is namespaced)."""

import pytest
from rest_framework.authtoken.models import Token


@pytest.mark.django_db
def test_the_api_root_links_point_into_the_api(client, staff_a):
    token = Token.objects.create(user=staff_a).key
    response = client.get("/api/v1/", HTTP_AUTHORIZATION=f"Token {token}", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    links = response.json()
    assert links["patients"].endswith("/api/v1/patients/")
    assert links["messages"].endswith("/api/v1/messages/")
    assert links["billing/invoices"].endswith("/api/v1/billing/invoices/")
    assert links["billing/batches"].endswith("/api/v1/billing/batches/")
    for name, url in links.items():
        assert "/api/v1/" in url, (name, url)
        path = url.split("testserver", 1)[-1]
        assert client.get(path, HTTP_AUTHORIZATION=f"Token {token}").status_code == 200, path
