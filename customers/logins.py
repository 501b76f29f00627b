"""Customer logins for /api/v1/me/: a Django user whose username is the customer's e-mail."""

from django.contrib.auth import get_user_model
from django.db import transaction

from common.actor import Actor
from common.models import Channel
from common.passwords import check_new_password
from customers.exceptions import CustomerConflict, InvalidCustomerData
from customers.services import find_or_create_customer


@transaction.atomic
def create_or_update_customer_login(
    *,
    email: str,
    password: str,
    actor: Actor | None = None,
    first_name: str = "",
    last_name: str = "",
    **customer_fields,
):
    """Give the customer with this e-mail a login (the customer is found or created first).

    Running it again sets the new password. Returns (user, customer, created) where created says
    whether the login is new. Raises InvalidCustomerData for a bad e-mail or an empty password,
    InvalidInput for a password that AUTH_PASSWORD_VALIDATORS refuse,
    CustomerConflict when the customer is already linked to another login or the username is taken
    by a staff login.
    """
    if not password:
        raise InvalidCustomerData(
            "Invalid customer login.", errors={"password": ["A password is needed."]}
        )
    actor = actor or Actor(channel=Channel.WEB)
    customer, _ = find_or_create_customer(
        actor=actor,
        email=email,
        first_name=first_name,
        last_name=last_name,
        **customer_fields,
    )
    if not customer.email:
        raise InvalidCustomerData(
            "Invalid customer login.", errors={"email": ["An e-mail address is needed."]}
        )
    User = get_user_model()
    user, created = User.objects.select_for_update().get_or_create(
        username=customer.email,
        defaults={
            "email": customer.email,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
        },
    )
    if user.is_staff or user.is_superuser:
        raise CustomerConflict(
            f"'{customer.email}' is a staff login; a customer login needs its own username.",
            code="login_conflict",
        )
    if customer.user_id not in (None, user.pk):
        raise CustomerConflict("This customer already has another login.", code="login_conflict")
    check_new_password(password, user=user, detail="Invalid customer login.")
    user.set_password(password)
    user.is_active = True
    user.save()
    if customer.user_id is None:
        customer.user = user
        # Saved, not updated: the customer's history shows the login being attached.
        customer.save(update_fields=["user", "updated_at"])
    return user, customer, created
