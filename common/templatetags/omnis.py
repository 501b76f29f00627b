"""`{% load omnis %}`: money and the store's local date and time (common.formatting).

{{ order.total|money:order.currency }}       21,90 €
{{ order.pickup_deadline|local_datetime:store }}   21.05.2026 18:00 (the store's zone)
"""

from django import template

from common import formatting

register = template.Library()


@register.filter
def money(amount, currency=None):
    return formatting.money(amount, currency)


@register.filter
def local_date(value, zone=None):
    return formatting.local_date(value, zone)


@register.filter
def local_time(value, zone=None):
    return formatting.local_time(value, zone)


@register.filter
def local_datetime(value, zone=None):
    return formatting.local_datetime(value, zone)
