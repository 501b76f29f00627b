"""Order workflows: orders.py (orders, click & collect, delivery), reservations.py, returns.py."""
