"""The invoice form makes one invoice per page: a double click (or two posts racing) makes one invoice."""

import pytest
from django.test import Client

from billing.models import Invoice
from tests.support.concurrency import at_once
from tests.support.invoices import invoice_post


def invoice_form(client, patient, payer, practitioner, day) -> dict:
    page = client.get("/billing/invoices/new/")
    key = page.context["form"]["request_key"].value()
    clinic = page.wsgi_request.clinic.pk
    return invoice_post(patient, payer, practitioner, day, request_key=key, form_clinic=clinic)


def test_a_double_post_of_the_invoice_form_makes_one_invoice(client_a, staff_a, patient_a, payer_a, yesterday):
    data = invoice_form(client_a, patient_a, payer_a, staff_a, yesterday)
    first = client_a.post("/billing/invoices/new/", data)
    second = client_a.post("/billing/invoices/new/", data, follow=True)
    invoice = Invoice.objects.get()
    assert first.url == f"/billing/invoices/{invoice.pk}/"
    assert second.redirect_chain == [(f"/billing/invoices/{invoice.pk}/", 302)]
    assert f"{invoice.number} was already saved" in second.content.decode()


def test_each_new_page_is_a_new_invoice(client_a, staff_a, patient_a, payer_a, yesterday):
    for _ in range(2):
        client_a.post("/billing/invoices/new/", invoice_form(client_a, patient_a, payer_a, staff_a, yesterday))
    assert sorted(Invoice.objects.values_list("number", flat=True)) == ["INV-000001", "INV-000002"]


def test_an_invoice_post_without_its_token_saves_nothing(client_a, staff_a, patient_a, payer_a, yesterday):
    data = invoice_form(client_a, patient_a, payer_a, staff_a, yesterday)
    del data["request_key"]
    response = client_a.post("/billing/invoices/new/", data)
    assert response.status_code == 400 and "reload the page" in response.content.decode()
    assert not Invoice.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_invoice_posts_make_one_invoice_and_use_one_number(
    staff_a, patient_a, payer_a, yesterday, make_invoice
):
    client = Client()
    client.force_login(staff_a)
    data = invoice_form(client, patient_a, payer_a, staff_a, yesterday)

    def post():
        c = Client()
        c.force_login(staff_a)
        return c.post("/billing/invoices/new/", data)

    # Each has looked for an invoice with this key before either takes a number.
    answers = at_once(2, post, meet_at="billing.services.next_number", before=True)

    invoice = Invoice.objects.get()
    assert [a.status_code for a in answers] == [302, 302]
    assert {a.url for a in answers} == {f"/billing/invoices/{invoice.pk}/"}
    # The loser's number was rolled back with it: the next invoice follows on.
    assert make_invoice(patient=patient_a, payer=payer_a).number == "INV-000002"
