"""/api/v1/: each app contributes its own routes."""

from django.urls import include, path

urlpatterns = [
    path("", include("common.urls")),
    path("", include("stores.urls")),
    path("", include("inventory.catalogue_urls")),
    path("", include("inventory.urls")),
    path("", include("customers.urls")),
    path("", include("orders.urls")),
]
