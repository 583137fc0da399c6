from django.core.management.base import BaseCommand

from messaging.simcarrier import run_forever


class Command(BaseCommand):
    help = "Run the simulated SMS/fax carrier (settings SIMCARRIER_*) until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8025)

    def handle(self, *args, host, port, **options):
        self.stdout.write(f"Simulated carrier on http://{host}:{port}")
        run_forever(host=host, port=port)
