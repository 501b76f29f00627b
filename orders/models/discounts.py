"""Which order spent which discount code (the code itself lives with the customers)."""

from django.db import models
from django.utils import timezone

from customers.models import Customer, DiscountCode
from orders.models.orders import Order


class DiscountRedemption(models.Model):
    code = models.ForeignKey(DiscountCode, on_delete=models.PROTECT, related_name="redemptions")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="discount_redemptions")
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="discount_redemptions"
    )
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["code", "order"], name="discount_redeemed_once_per_order"
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gte=0), name="discount_redemption_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code_id} on {self.order_id}"
