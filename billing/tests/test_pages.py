from billing import batches
from billing.models import BillingBatch, Invoice
from tests.support.invoices import invoice_post


def test_create_invoice_with_lines_and_mark_ready(client_a, staff_a, patient_a, payer_a, yesterday):
    response = client_a.post("/billing/invoices/new/", invoice_post(patient_a, payer_a, staff_a, yesterday, ready=""))
    invoice = Invoice.objects.get()
    assert response.status_code == 302 and response.url == f"/billing/invoices/{invoice.pk}/"
    assert (invoice.status, str(invoice.total), invoice.lines.count()) == ("ready", "95.50", 1)
    assert client_a.get("/billing/").context["pool"][0] == invoice


def test_bad_line_gives_field_errors_and_saves_nothing(client_a, staff_a, patient_a, payer_a, yesterday):
    data = invoice_post(patient_a, payer_a, staff_a, yesterday, **{"lines-0-amount": "abc", "lines-0-service_code": ""})
    response = client_a.post("/billing/invoices/new/", data)
    assert response.status_code == 400
    errors = response.context["lines"].forms[0].errors
    assert set(errors) == {"amount", "service_code"}
    assert Invoice.objects.count() == 0


def test_pool_banner_links_to_fixes(client_a, make_invoice, patient_a, payer_a):
    broken = make_invoice(patient=patient_a, payer=payer_a, member_id="")
    content = client_a.get("/billing/").content.decode()
    assert f"/billing/invoices/{broken.pk}/edit/" in content
    assert "needs the patient&#x27;s member id" in content


def test_an_invoices_several_problems_read_as_sentences(client_a, make_invoice, patient_a, payer_a):
    """The walk saw "member id.; Duplicate claim...": each problem is a sentence, so they are set apart by a
    space, not a semicolon after the full stop."""
    make_invoice(patient=patient_a, payer=payer_a, service_code="C1")
    twice = make_invoice(patient=patient_a, payer=payer_a, service_code="C1", member_id="")
    assert len(twice.critical_errors) >= 2
    content = client_a.get("/billing/").content.decode()
    assert ".; " not in content and "member id. " in content


def test_fixing_an_invoice_moves_it_into_the_pool(client_a, make_invoice, staff_a, patient_a, payer_a, yesterday):
    broken = make_invoice(patient=patient_a, payer=payer_a, member_id="")
    assert list(client_a.get("/billing/").context["pool"]) == []
    data = invoice_post(patient_a, payer_a, staff_a, yesterday)
    client_a.post(f"/billing/invoices/{broken.pk}/edit/", data)
    assert list(client_a.get("/billing/").context["pool"]) == [broken]


def test_double_submit_of_the_batch_form_makes_one_batch(client_a, make_invoice, patient_a, payer_a, yesterday):
    make_invoice(patient=patient_a, payer=payer_a)
    form = client_a.get("/billing/").context["form"]
    data = {
        "payer": payer_a.pk,
        "cutoff_date": yesterday.isoformat(),
        "request_key": form["request_key"].value(),
        "form_clinic": payer_a.clinic_id,
    }
    first = client_a.post("/billing/batches/new/", data)
    second = client_a.post("/billing/batches/new/", data)
    batch = BillingBatch.objects.get()
    assert first.url == second.url == f"/billing/batches/{batch.pk}/"


def test_waiting_batch_shows_its_place_in_the_queue(
    client_a, clinic_a, staff_a, payer_a, yesterday, make_invoice, patient_a
):
    make_invoice(patient=patient_a, payer=payer_a)
    for _ in range(2):
        batch, _ = batches.batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=yesterday)
    content = client_a.get(f"/billing/batches/{batch.pk}/").content.decode()
    assert "Building: position 2 in queue, waiting" in content
    assert 'http-equiv="refresh"' in content


def test_batch_form_field_errors(client_a, clinic_a):
    response = client_a.post(
        "/billing/batches/new/", {"cutoff_date": "not a date", "request_key": "k", "form_clinic": clinic_a.pk}
    )
    assert response.status_code == 400
    assert "cutoff_date" in response.context["form"].errors
    assert BillingBatch.objects.count() == 0


def test_batch_actions_from_the_page(
    client_a, make_invoice, clinic_a, staff_a, patient_a, payer_a, yesterday, manager_a
):
    invoice = make_invoice(patient=patient_a, payer=payer_a, amounts=("50.00",))
    batch, _ = batches.batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=yesterday)
    batches.drain_batch_requests()
    client_a.force_login(manager_a)  # submitting and recording payments are a manager's
    here = {"form_clinic": clinic_a.pk}
    asked = client_a.post(f"/billing/batches/{batch.pk}/submit/", here)
    assert asked.status_code == 200 and "Mark Batch 000000001 submitted?" in asked.content.decode()
    assert BillingBatch.objects.get(pk=batch.pk).status == "open"  # asked first, nothing done yet
    client_a.post(f"/billing/batches/{batch.pk}/submit/", {**here, "confirm": "yes"})
    page = client_a.get(f"/billing/batches/{batch.pk}/")
    assert page.context["payment_form"]["invoice"].value() == invoice.pk  # the one invoice, chosen already
    bad = client_a.post(f"/billing/batches/{batch.pk}/payment/", {**here, "invoice": invoice.pk, "amount": "60"})
    assert bad.status_code == 400 and "amount" in bad.context["payment_form"].errors
    client_a.post(f"/billing/batches/{batch.pk}/payment/", {**here, "invoice": invoice.pk, "amount": "50"})
    batch.refresh_from_db()
    assert batch.status == "paid"
    summary = client_a.get(f"/billing/batches/{batch.pk}/summary/")
    assert invoice.number in summary.content.decode()


def test_other_clinics_billing_is_not_found(client_a, make_user, clinic_a, clinic_b, patient_b, payer_b, yesterday):
    from billing.services import invoice_create

    here = clinic_a.pk  # the forms alice posts are clinic A's

    invoice = invoice_create(
        clinic=clinic_b,
        patient=patient_b,
        payer=payer_b,
        lines=[{"service_code": "X", "description": "x", "date_of_service": yesterday, "amount": "10"}],
    )
    batch = _requested_batch(clinic_b, payer_b, yesterday)
    for url in [
        f"/billing/invoices/{invoice.pk}/",
        f"/billing/invoices/{invoice.pk}/edit/",
        f"/billing/batches/{batch.pk}/",
        f"/billing/batches/{batch.pk}/export.csv",
        f"/billing/batches/{batch.pk}/export.837",
        f"/billing/batches/{batch.pk}/summary/",
    ]:
        assert client_a.get(url).status_code == 404, url
    for url in [f"/billing/batches/{batch.pk}/cancel/", f"/billing/invoices/{invoice.pk}/status/"]:
        assert client_a.post(url, {"status": "void", "form_clinic": here}).status_code == 404, url
    batch.refresh_from_db()
    invoice.refresh_from_db()
    assert (batch.status, invoice.status) == ("requested", "draft")
    # and another clinic's payer cannot be chosen for a batch here
    response = client_a.post(
        "/billing/batches/new/",
        {"payer": payer_b.pk, "cutoff_date": "2026-01-01", "request_key": "x", "form_clinic": here},
    )
    assert response.status_code == 400 and "payer" in response.context["form"].errors


def test_edit_page_round_trips_existing_lines(client_a, make_invoice, patient_a, payer_a):
    invoice = make_invoice(patient=patient_a, payer=payer_a, member_id="", amounts=("10.00", "20.00"))
    lines = client_a.get(f"/billing/invoices/{invoice.pk}/edit/").context["lines"]
    data = {"patient": patient_a.pk, "payer": payer_a.pk, "practitioner": invoice.practitioner_id, "member_id": "M-7"}
    data["form_clinic"] = patient_a.clinic_id
    data.update({f"lines-{k}": v for k, v in lines.management_form.initial.items()})
    for form in lines.forms:
        for name, field in form.fields.items():
            value = form.initial.get(name)
            if value is not None:
                data[form.add_prefix(name)] = field.widget.format_value(value) if name == "date_of_service" else value
    assert client_a.post(f"/billing/invoices/{invoice.pk}/edit/", data).status_code == 302
    invoice.refresh_from_db()
    assert (invoice.member_id, str(invoice.total), invoice.lines.count()) == ("M-7", "30.00", 2)
    assert invoice.has_critical_errors is False


def test_remove_an_invoice_then_cancel_from_the_page(
    client_a, make_invoice, clinic_a, staff_a, patient_a, payer_a, yesterday, manager_a
):
    kept, removed = (make_invoice(patient=patient_a, payer=payer_a) for _ in range(2))
    batch, _ = batches.batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=yesterday)
    batches.drain_batch_requests()
    client_a.post(f"/billing/batches/{batch.pk}/remove/{removed.pk}/", {"form_clinic": clinic_a.pk})
    batch.refresh_from_db()
    assert [i.invoice for i in batch.items.filter(active=True)] == [kept]
    assert client_a.get("/billing/").context["pool"][0] == removed
    client_a.force_login(manager_a)
    client_a.post(f"/billing/batches/{batch.pk}/cancel/", {"form_clinic": clinic_a.pk, "confirm": "yes"})
    batch.refresh_from_db()
    assert batch.status == "cancelled"
    assert set(Invoice.objects.values_list("status", flat=True)) == {"ready"}
    history = client_a.get(f"/billing/batches/{batch.pk}/").content.decode()
    assert f"Removed {removed.number}" in history and "alice" in history


def _requested_batch(clinic, payer, cutoff_date):
    """A requested batch, written directly: these tests need it to exist, not to be buildable."""
    from django.utils import timezone

    return BillingBatch.objects.create(
        clinic=clinic, payer=payer, request_key="theirs", cutoff_date=cutoff_date, requested_at=timezone.now()
    )
