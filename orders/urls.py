from orders.api import orders, reservations, returns

urlpatterns = [*orders.urlpatterns, *reservations.urlpatterns, *returns.urlpatterns]
