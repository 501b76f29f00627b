"""Domain events other apps may listen to, so that inventory never imports them.

`transfer_received` is sent inside the transaction of `receive_transfer`, after the goods are
booked in: a listener's writes commit or roll back together with the receipt.
"""

from django.dispatch import Signal

# kwargs: actor, transfer
transfer_received = Signal()
