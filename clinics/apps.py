from django.apps import AppConfig


class ClinicsConfig(AppConfig):
    name = "clinics"
    verbose_name = "Clinics"

    def ready(self):
        from clinics import housekeeping
        from lanes import registry
        from lanes.pokes import BULK

        registry.register_schedule(
            name="clinics: housekeeping", lane=BULK, func=housekeeping.PURGE, minutes="HOUSEKEEPING_MINUTES"
        )
