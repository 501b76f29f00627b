from django.urls import path

from orders.desk import lists, orders, reservations, returns
from orders.desk.home import desk_home

app_name = "desk"
urlpatterns = [
    path("", desk_home, name="home"),
    *orders.urlpatterns,
    *reservations.urlpatterns,
    *returns.urlpatterns,
    *lists.urlpatterns,
]
