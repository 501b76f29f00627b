from django.shortcuts import render

from common.access import desk_rule
from stores.models import Store
from stores.selectors import store_ids_for_staff


@desk_rule()
def desk_home(request):
    stores = Store.objects.filter(pk__in=store_ids_for_staff(request.user)).order_by("code")
    return render(request, "desk/home.html", {"stores": stores})
