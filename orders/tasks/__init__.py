# Celery's autodiscovery imports orders.tasks: the task modules register themselves on import.
from orders.tasks import insights, nudges, orders, refunds, reservations, returns  # noqa: F401
