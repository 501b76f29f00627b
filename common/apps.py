from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = "API access"

    def ready(self) -> None:
        from common import (
            schema,  # noqa: F401 - registers the OpenAPI auth extension
            webhooks,  # noqa: F401 - registers the outbox handler for deliveries
        )
        from common.security import connect_signals

        connect_signals()
