"""The morning board (`/desk/`, the page after login): what the store picks, hands over, refunds
and receives today, with counts on top. htmx reloads the board's fragment every minute."""

from django.shortcuts import render
from django.views.decorators.http import require_safe

from common.access import desk_rule
from orders.selectors.board import board_stores_for, morning_board

REFRESH_SECONDS = 60


@desk_rule()
@require_safe
def desk_home(request):
    stores = board_stores_for(request.user)
    wanted = request.GET.get("store", "")
    store = next((s for s in stores if s.code == wanted), stores[0] if stores else None)
    context = {
        "stores": stores,
        "store": store,
        "board": morning_board(store) if store is not None else None,
        "refresh_seconds": REFRESH_SECONDS,
    }
    # htmx asks for the board alone (HX-Request): no header, no switcher, no full reload.
    template = "desk/board/_board.html" if request.htmx else "desk/board/board.html"
    return render(request, template, context)
