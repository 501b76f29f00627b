from django.urls import path

from orders.desk import customers, lists, orders, reservations, returns, search, till, transfers
from orders.desk.home import desk_home
from orders.insights import desk as insights

app_name = "desk"
urlpatterns = [
    path("", desk_home, name="home"),
    *orders.urlpatterns,
    *reservations.urlpatterns,
    *returns.urlpatterns,
    *lists.urlpatterns,
    *search.urlpatterns,
    *customers.urlpatterns,
    *till.urlpatterns,
    *transfers.urlpatterns,
    *insights.urlpatterns,
]
