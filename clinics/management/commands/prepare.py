"""Everything `make run` needs before it starts serving, in one process: migrate, cache table,
static files, demo data. Each step is idempotent, so a second `make run` only checks."""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate, create the cache table, collect static files and load demo data (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--no-demo", action="store_true", help="Skip the demo data.")

    def handle(self, *args, no_demo=False, **options):
        call_command("migrate", interactive=False, verbosity=1)
        call_command("createcachetable", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        if not no_demo:
            call_command("demo")
