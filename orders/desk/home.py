from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from stores.models import Store
from stores.selectors import store_ids_for_staff


@login_required
def desk_home(request):
    stores = Store.objects.filter(pk__in=store_ids_for_staff(request.user)).order_by("code")
    return render(request, "desk/home.html", {"stores": stores})
