from billing import demo
from billing.models import BillingBatch, Invoice, Payer
from clinics.models import Clinic


def test_demo_data_loads_twice_without_duplicates(clinic_a, staff_a, patient_a):
    # As `manage.py demo` calls it (clinics/management/commands/demo.py: app_loaders).
    demo.load(Clinic.objects.all())
    counts = (Payer.objects.count(), Invoice.objects.count(), BillingBatch.objects.count())
    demo.load(Clinic.objects.all())
    assert (Payer.objects.count(), Invoice.objects.count(), BillingBatch.objects.count()) == counts
    assert BillingBatch.objects.get().status == "open"
    assert Invoice.objects.filter(has_critical_errors=True, status="ready").exists()
