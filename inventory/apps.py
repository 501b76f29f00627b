from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"

    def ready(self) -> None:
        from inventory import webhooks  # noqa: F401 - registers the stock.changed data reader
