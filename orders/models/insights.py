"""What the insights are read from: refusals for lack of stock, and the daily rollups.

The rollups are summaries rebuilt from the orders, reservations, returns, store credit, codes and
the customers' timelines (orders.insights.rollups); nothing else writes them and deleting them
loses nothing but time.
"""

from django.db import models
from django.utils import timezone

from common.models import Channel
from stores.models import Store


class RefusalKind(models.TextChoices):
    ORDER = "order", "Order"
    RESERVATION = "reservation", "Reservation"
    SALE = "sale", "Sale at the till"


class StockRefusal(models.Model):
    """An order, hold or till sale refused because the stock was not there.

    Written on the refusal's way out, after the refused work rolled back, so demand we could not
    serve is counted. `store` is where the stock was missing (empty: no warehouse had it).
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=12, choices=RefusalKind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lines = models.JSONField(default=list, help_text="[{sku, requested, available}]")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} refused at {self.store_id} ({self.at:%Y-%m-%d %H:%M})"


class DailyFigure(models.Model):
    """One number of one day and store: `figure` names what is counted, `detail` how it splits
    (a channel, a fulfilment, a minute bucket). Week and month are stored so a period sums without
    date functions."""

    day = models.DateField()
    week = models.DateField(help_text="The Monday of the day's ISO week.")
    month = models.DateField(help_text="The first of the day's month.")
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    figure = models.CharField(max_length=30)
    detail = models.CharField(max_length=40, blank=True)
    tally = models.BigIntegerField(default=0)
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    whole_retailer = models.BooleanField(
        default=False,
        help_text="The sum over every store (and what has no store), so the retailer's figures "
        "read one row per figure and day instead of one per store.",
    )

    class Meta:
        permissions = [("see_insights", "Can see the omnichannel insights")]
        indexes = [
            models.Index(fields=["whole_retailer", "day"], name="daily_figure_whole_day_idx"),
            models.Index(fields=["day", "store"], name="daily_figure_day_store_idx"),
            models.Index(fields=["store", "day"], name="daily_figure_store_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.store_id} {self.figure}/{self.detail}: {self.tally}"


class CustomerDay(models.Model):
    """Which channels a customer used on a day and what they spent (orders not cancelled)."""

    day = models.DateField(db_index=True)
    week = models.DateField(db_index=True)
    month = models.DateField(db_index=True)
    customer_id = models.BigIntegerField()
    web = models.PositiveSmallIntegerField(default=0)
    app = models.PositiveSmallIntegerField(default=0)
    phone = models.PositiveSmallIntegerField(default=0)
    store = models.PositiveSmallIntegerField(default=0)
    spend = models.DecimalField(max_digits=14, decimal_places=2, default=0)

    def __str__(self) -> str:
        return f"{self.day} customer {self.customer_id}"


class PeriodGrain(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"


class CustomerFigure(models.Model):
    """Customers active in a period by how many channels they used, and their spend.

    Distinct people do not add up over days, so each period (day, ISO week, month) is counted
    on its own from the customer days."""

    period = models.CharField(max_length=5, choices=PeriodGrain.choices)
    start = models.DateField()
    channels = models.PositiveSmallIntegerField()
    customers = models.BigIntegerField(default=0)
    spend = models.DecimalField(max_digits=14, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["period", "start", "channels"], name="customer_figure_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.start}: {self.customers} in {self.channels} channel(s)"


class JourneyFigure(models.Model):
    """How many customers took one path of channels in a calendar month."""

    month = models.DateField(db_index=True)
    path = models.CharField(max_length=300)
    customers = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.month} {self.path}: {self.customers}"
