from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from inventory.signals import transfer_arriving, transfer_received
        from orders import (
            privacy,  # noqa: F401 - registers what erasing a customer does to orders
            tasks,  # noqa: F401 - registers the outbox handlers for the messages
        )

        transfer_arriving.connect(_lock_orders_of_transfer, dispatch_uid="orders-transfer-arriving")
        transfer_received.connect(
            _settle_orders_of_transfer, dispatch_uid="orders-transfer-received"
        )


def _lock_orders_of_transfer(sender, *, transfer, **kwargs) -> None:
    from orders.services.orders import lock_orders_of_transfer

    lock_orders_of_transfer(transfer=transfer)


def _settle_orders_of_transfer(sender, *, actor, transfer, **kwargs) -> None:
    from orders.services.orders import on_transfer_received

    on_transfer_received(actor=actor, transfer=transfer)
