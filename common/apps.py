from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = "API access"

    def ready(self) -> None:
        from common import (
            audit,
            history,
            schema,  # noqa: F401 - registers the OpenAPI auth extension
            security,
            webhooks,  # noqa: F401 - registers the outbox handler for deliveries
        )

        security.connect_signals()
        audit.connect_signals()
        history.connect_signals()
