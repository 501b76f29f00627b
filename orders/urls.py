from django.urls import path

from orders.api import orders, reservations, returns, sizes

urlpatterns = [
    *orders.urlpatterns,
    *reservations.urlpatterns,
    *returns.urlpatterns,
    path("customers/<int:pk>/sizes/", sizes.CustomerSizesView.as_view(), name="customer-sizes"),
    path("me/sizes/", sizes.MySizesView.as_view(), name="me-sizes"),
]
