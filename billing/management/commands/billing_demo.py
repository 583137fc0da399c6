from django.core.management.base import BaseCommand

from billing.demo import load
from clinics.models import Clinic


class Command(BaseCommand):
    help = "Create demo payers, invoices and a batch for every clinic. Safe to run repeatedly."

    def handle(self, *args, **options):
        load(Clinic.objects.all())
        self.stdout.write(self.style.SUCCESS("Billing demo data ready."))
