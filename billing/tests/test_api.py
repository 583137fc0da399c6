from rest_framework.authtoken.models import Token

from billing import batches, services
from billing.models import BillingBatch, Invoice


def _line(day, amount="70.00", code="C1"):
    return {"service_code": code, "description": "Consultation", "date_of_service": day.isoformat(), "amount": amount}


def test_create_invoice_with_lines(client_a, staff_a, patient_a, payer_a, yesterday):
    response = client_a.post(
        "/api/v1/billing/invoices/",
        {
            "patient": patient_a.pk,
            "payer": payer_a.pk,
            "practitioner": staff_a.pk,
            "member_id": "M1",
            "lines": [_line(yesterday), _line(yesterday, "5.25", "C2")],
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["total"], body["has_critical_errors"], len(body["lines"])) == ("75.25", False, 2)
    ready = client_a.post(f"/api/v1/billing/invoices/{body['id']}/status/", {"status": "ready"}, "application/json")
    assert ready.json()["status"] == "ready"


def test_invoice_field_errors_change_nothing(client_a, patient_a, payer_b, yesterday):
    response = client_a.post(
        "/api/v1/billing/invoices/",
        {"patient": patient_a.pk, "payer": payer_b.pk, "lines": [{**_line(yesterday), "amount": "-1"}]},
        content_type="application/json",
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"payer", "lines"}  # another clinic's payer is simply not there
    assert Invoice.objects.count() == 0


def test_repeated_batch_request_yields_one_batch(client, staff_a, payer_a, yesterday, make_invoice, patient_a):
    make_invoice(patient=patient_a, payer=payer_a)
    token = Token.objects.create(user=staff_a)
    auth = {"HTTP_AUTHORIZATION": f"Token {token.key}", "HTTP_IDEMPOTENCY_KEY": "abc-123"}
    payload = {"payer": payer_a.pk, "cutoff_date": yesterday.isoformat()}
    first = client.post("/api/v1/billing/batches/", payload, content_type="application/json", **auth)
    again = client.post("/api/v1/billing/batches/", payload, content_type="application/json", **auth)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["queue_position"] == 1
    assert BillingBatch.objects.count() == 1


def test_batch_actions_and_csv(client_a, make_invoice, patient_a, payer_a, yesterday, manager_a):
    invoice = make_invoice(patient=patient_a, payer=payer_a, amounts=("30.00",))
    created = client_a.post(
        "/api/v1/billing/batches/", {"payer": payer_a.pk, "cutoff_date": yesterday.isoformat()}, "application/json"
    ).json()
    batches.drain_batch_requests()
    url = f"/api/v1/billing/batches/{created['id']}/"
    assert client_a.get(url).json()["status"] == "open"
    assert client_a.get(url + "csv/").content.decode().count("\n") == 2
    assert client_a.post(url + "submit/").status_code == 403  # a practitioner does not submit
    client_a.force_login(manager_a)
    assert client_a.post(url + "submit/").json()["status"] == "submitted"
    too_much = client_a.post(url + "payments/", {"invoice": invoice.pk, "amount": "31"}, "application/json")
    assert too_much.status_code == 400 and "amount" in too_much.json()
    paid = client_a.post(url + "payments/", {"invoice": invoice.pk, "amount": "30"}, "application/json")
    assert paid.json()["status"] == "paid"
    assert client_a.post(url + "cancel/").status_code == 400


def test_other_clinics_billing_is_not_found_in_the_api(client_a, clinic_b, patient_b, payer_b, yesterday):
    from billing.services import invoice_create

    invoice = invoice_create(clinic=clinic_b, patient=patient_b, payer=payer_b, lines=[_line(yesterday)])
    batch = _requested_batch(clinic_b, payer_b, yesterday)
    assert client_a.get(f"/api/v1/billing/invoices/{invoice.pk}/").status_code == 404
    assert client_a.get(f"/api/v1/billing/batches/{batch.pk}/").status_code == 404
    assert client_a.post(f"/api/v1/billing/batches/{batch.pk}/cancel/").status_code == 404
    assert client_a.get(f"/api/v1/billing/payers/{payer_b.pk}/").status_code == 404
    assert client_a.get("/api/v1/billing/invoices/").json()["results"] == []
    batch.refresh_from_db()
    assert batch.status == "requested"


def test_billing_is_in_the_schema(client, db):
    schema = client.get("/api/schema/").content
    for path in [b"/api/v1/billing/invoices/", b"/api/v1/billing/batches/", b"/api/v1/billing/batches/{id}/payments/"]:
        assert path in schema


def test_batch_request_field_errors_change_nothing(client_a, payer_b):
    response = client_a.post(
        "/api/v1/billing/batches/", {"payer": payer_b.pk, "cutoff_date": "soon"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"payer", "cutoff_date"}
    assert BillingBatch.objects.count() == 0


def test_invoice_list_does_not_query_per_invoice(
    client_a, make_invoice, patient_a, payer_a, django_assert_max_num_queries
):
    for _ in range(10):
        make_invoice(patient=patient_a, payer=payer_a, amounts=("1.00", "2.00"))
    with django_assert_max_num_queries(9):
        body = client_a.get("/api/v1/billing/invoices/").json()
    assert [len(i["lines"]) for i in body["results"]] == [2] * 10


def test_the_api_answers_a_service_refusal_as_a_serializer_would(client_a, make_invoice, patient_a, payer_a):
    """Editing a void invoice: the service's plain message comes back under non_field_errors (the key a
    serializer's own validation uses), not under "detail", which DRF keeps for errors that are not
    validation (404, 403), and nothing changes."""
    invoice = make_invoice(patient=patient_a, payer=payer_a)
    services.invoice_set_status(invoice=invoice, status=Invoice.Status.VOID)
    response = client_a.patch(f"/api/v1/billing/invoices/{invoice.pk}/", {"member_id": "NEW"}, "application/json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["A void invoice cannot be edited."]}
    invoice.refresh_from_db()
    assert invoice.member_id == "M-123"


def _requested_batch(clinic, payer, cutoff_date):
    """A requested batch, written directly: these tests need it to exist, not to be buildable."""
    from django.utils import timezone

    return BillingBatch.objects.create(
        clinic=clinic, payer=payer, request_key="theirs", cutoff_date=cutoff_date, requested_at=timezone.now()
    )
