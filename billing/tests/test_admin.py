from billing import batches
from billing.models import BillingBatch


def test_admin_rebuilds_a_failed_batch_and_exports(
    client, make_user, make_invoice, clinic_a, staff_a, patient_a, payer_a, yesterday
):
    admin_user = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    invoice = make_invoice(patient=patient_a, payer=payer_a)
    failed, _ = batches.batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=yesterday)
    from billing.services import invoice_update

    invoice_update(invoice=invoice, member_id="")  # broken between the request and its build
    batches.drain_batch_requests()
    failed.refresh_from_db()
    assert failed.status == "failed"

    invoice_update(invoice=invoice, member_id="M9")
    changelist = "/admin/billing/billingbatch/"
    assert client.get(changelist + "?status__exact=failed").status_code == 200
    client.post(changelist, {"action": "rebuild_failed", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert failed.status == "requested"
    assert failed.history.last().by == admin_user

    batches.drain_batch_requests()
    # admin exports nothing (it merged every clinic's claims): the clinic's staff export their own batch
    response = client.post(changelist, {"action": "export_csv", "_selected_action": [failed.pk]}, follow=True)
    assert "text/csv" not in response["Content-Type"]
    assert BillingBatch.objects.get(pk=failed.pk).status == "open"

    client.post(changelist, {"action": "cancel", "_selected_action": [failed.pk]})
    assert BillingBatch.objects.get(pk=failed.pk).status == "cancelled"
    assert client.get(f"/admin/billing/billingbatch/{failed.pk}/change/").status_code == 200
    assert client.get(f"/admin/billing/invoice/{invoice.pk}/change/").status_code == 200
