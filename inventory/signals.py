"""Domain events other apps may listen to, so that inventory never imports them.

`transfer_received` is sent inside the transaction of `receive_transfer`, after the goods are
booked in: a listener's writes commit or roll back together with the receipt.

`transfer_arriving` is sent in the same transaction before any stock row is touched, so that a
listener can lock the rows it will change on `transfer_received` first: workflow rows come
before stock rows in the global lock order (inventory/services/stock.py).
"""

from django.dispatch import Signal

# kwargs: actor, transfer
transfer_arriving = Signal()
transfer_received = Signal()
