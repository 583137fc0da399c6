from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self):
        from messaging import kinds, webhooks

        webhooks.connect_signals()
        kinds.register()  # the live lane's messages and delivery reports, their schedule, the re-index target

        from messaging import checks, hub

        hub.register_section()  # the patient page's communication history and Send buttons (clinics.hub)

        checks.register()  # production refuses to start without its webhook secrets
