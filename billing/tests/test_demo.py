from django.core.management import call_command

from billing.models import BillingBatch, Invoice, Payer


def test_demo_data_loads_twice_without_duplicates(clinic_a, staff_a, patient_a):
    call_command("billing_demo")
    counts = (Payer.objects.count(), Invoice.objects.count(), BillingBatch.objects.count())
    call_command("billing_demo")
    assert (Payer.objects.count(), Invoice.objects.count(), BillingBatch.objects.count()) == counts
    assert BillingBatch.objects.get().status == "open"
    assert Invoice.objects.filter(has_critical_errors=True, status="ready").exists()
