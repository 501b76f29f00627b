from django.urls import path

from stores.api import StaffStoreView, StoreListView

urlpatterns = [
    path("stores/", StoreListView.as_view(), name="store-list"),
    path("staff/stores/<str:code>/", StaffStoreView.as_view(), name="staff-store-detail"),
]
