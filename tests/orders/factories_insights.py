"""A small retailer day for the insights, built through the services, then moved to one known
day (DAY, in the deployment's time zone) so the figures can be counted by hand."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from common.actor import Actor
from common.models import Channel
from customers.models import Customer, DiscountCode, StoreCreditEntry, TimelineEvent
from orders.models import DiscountRedemption, Order, Reservation, Return, StockRefusal
from orders.services import orders as order_services
from orders.services.reservations import collect_reservation, release_expired_reservations
from orders.services.returns import ReturnLineRequest, create_return, receive_return, refund_return
from orders.services.sales import sell_at_till
from stores.models import StaffRole, Store
from tests.customers.factories_discounts import discount_code
from tests.factories import CustomerFactory, StoreFactory, WarehouseFactory, staff_user
from tests.orders.factories_orders import committed, stocked_variant
from tests.orders.factories_reservations import reservation_for

DAY = date(2026, 3, 10)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@dataclass
class RetailDay:
    berlin: Store
    hamburg: Store
    warehouse: Store
    anna: Customer  # web, phone, store and app: the multichannel customer
    ben: Customer  # web only
    carl: Customer  # phone only
    o1: Order  # web pickup at Berlin: ready after 30 min, collected 90 min later, returned
    o2: Order  # web pickup at Berlin: ready after 120 min, never collected (a no-show)
    o3: Order  # web delivery with ben's discount code
    o4: Order  # app delivery, 5.00 paid with store credit
    collected_hold: Order  # the store sale of anna's collected phone reservation
    till_sale: Order  # walk-in sale at Hamburg
    credit: Decimal  # store credit for o1's return


def retail_day() -> RetailDay:
    berlin = StoreFactory(code="BER-01", name="Berlin")
    hamburg = StoreFactory(code="HAM-01", name="Hamburg")
    warehouse = WarehouseFactory(code="WHS-01")
    clerk = Actor(user=staff_user(berlin, role=StaffRole.MANAGER), channel=Channel.STORE)
    hamburg_clerk = Actor(user=staff_user(hamburg), channel=Channel.STORE)
    web, app = Actor(channel=Channel.WEB), Actor(channel=Channel.APP)
    phone = Actor(user=staff_user(berlin, role=StaffRole.SERVICE_AGENT), channel=Channel.PHONE)
    anna, ben, carl = (CustomerFactory(first_name=n) for n in ("Anna", "Ben", "Carl"))
    shirt = stocked_variant(berlin, 10)
    for store in (warehouse, hamburg):
        from tests.inventory.factories_stock import stocked

        stocked(shirt, store, 10)
    sold_out = stocked_variant(berlin, 0)

    with committed():
        o1 = order_services.place_order(
            actor=web, customer=anna, fulfilment="pickup", pickup_store=berlin, lines=[(shirt, 1)]
        )
        o2 = order_services.place_order(
            actor=web, customer=ben, fulfilment="pickup", pickup_store=berlin, lines=[(shirt, 2)]
        )
        code = discount_code(berlin, customer=ben)
        o3 = order_services.place_order(
            actor=web,
            customer=ben,
            fulfilment="delivery",
            shipping_store=warehouse,
            lines=[(shirt, 1)],
            discount_code=code.code,
        )
        o1 = order_services.mark_ready_for_pickup(actor=clerk, order=o1)
        o1 = order_services.hand_over(actor=clerk, order=o1, pickup_code=o1.pickup_code)
        o2 = order_services.mark_ready_for_pickup(actor=clerk, order=o2)
    Order.objects.filter(pk=o2.pk).update(pickup_deadline=timezone.now() - timedelta(minutes=1))
    with committed():
        order_services.expire_uncollected_orders()

        held = reservation_for(berlin, customer=anna, lines=[(shirt, 1)], actor=phone)
        collect_reservation(actor=clerk, reservation=held)
        dropped = reservation_for(berlin, customer=carl, lines=[(shirt, 1)], actor=phone)
        Reservation.objects.filter(pk=dropped.pk).update(expires_at=timezone.now())
        release_expired_reservations()

        # Bought on the web, brought back over Berlin's counter: a cross-channel return.
        returned = create_return(
            actor=clerk,
            order=o1,
            store=berlin,
            lines=[ReturnLineRequest(order_line=o1.lines.get().pk, quantity=1, reason="too_small")],
        )
        returned = receive_return(
            actor=clerk,
            return_request=returned,
            conditions={line.pk: "resellable" for line in returned.lines.all()},
        )
        refund_return(actor=clerk, return_request=returned, method="store_credit")
        o4 = order_services.place_order(
            actor=app,
            customer=anna,
            fulfilment="delivery",
            shipping_store=warehouse,
            lines=[(shirt, 1)],
            store_credit_amount=Decimal("5.00"),
        )
        till_sale = sell_at_till(
            actor=hamburg_clerk, store=hamburg, lines=[(shirt, 1)], payment_method="cash"
        )
    # Refused for lack of stock: a web pickup order and a phone hold at Berlin.
    for refused in (
        lambda: order_services.place_order(
            actor=web, customer=ben, fulfilment="pickup", pickup_store=berlin, lines=[(sold_out, 1)]
        ),
        lambda: reservation_for(berlin, customer=carl, lines=[(sold_out, 1)], actor=phone),
    ):
        try:
            refused()
        except Exception as exc:  # noqa: BLE001 - asserted by the refusal rows below
            assert exc.code == "insufficient_stock", exc

    _move_to_day(o1=o1, o2=o2, held=held, dropped=dropped)
    held.refresh_from_db()
    return RetailDay(
        berlin=berlin,
        hamburg=hamburg,
        warehouse=warehouse,
        anna=anna,
        ben=ben,
        carl=carl,
        o1=Order.objects.get(pk=o1.pk),
        o2=Order.objects.get(pk=o2.pk),
        o3=Order.objects.get(pk=o3.pk),
        o4=Order.objects.get(pk=o4.pk),
        collected_hold=Order.objects.get(pk=held.order_id),
        till_sale=Order.objects.get(pk=till_sale.pk),
        credit=StoreCreditEntry.objects.filter(amount__gt=0).get().amount,
    )


def _move_to_day(*, o1, o2, held, dropped) -> None:
    """Everything happened on DAY; the pickups' times are the ones the figures are checked with."""
    morning = at(9)
    Order.objects.update(created_at=morning)
    Order.objects.filter(pk=o1.pk).update(ready_at=at(9, 30), collected_at=at(11))
    Order.objects.filter(pk=o2.pk).update(
        created_at=at(10), ready_at=at(12), pickup_deadline=at(18), cancelled_at=at(19)
    )
    Reservation.objects.filter(pk=held.pk).update(created_at=morning, collected_at=at(14))
    Reservation.objects.filter(pk=dropped.pk).update(created_at=morning, released_at=at(16))
    Return.objects.update(created_at=at(12))
    StoreCreditEntry.objects.update(created_at=at(12))
    DiscountCode.objects.update(created_at=morning)
    DiscountRedemption.objects.update(at=morning)
    StockRefusal.objects.update(at=at(15))
    TimelineEvent.objects.update(at=at(13))
