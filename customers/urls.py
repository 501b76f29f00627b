from django.urls import path

from customers import api, discount_api
from customers.privacy import api as privacy_api

urlpatterns = [
    path("customers/", api.CustomerListCreateView.as_view(), name="customer-list"),
    path("customers/<int:pk>/", api.CustomerDetailView.as_view(), name="customer-detail"),
    path("customers/<int:pk>/notes/", api.CustomerNotesView.as_view(), name="customer-notes"),
    path(
        "customers/<int:pk>/touchpoints/",
        api.CustomerTouchpointsView.as_view(),
        name="customer-touchpoints",
    ),
    path(
        "customers/<int:pk>/timeline/", api.CustomerTimelineView.as_view(), name="customer-timeline"
    ),
    path(
        "customers/<int:pk>/wishlist/", api.CustomerWishlistView.as_view(), name="customer-wishlist"
    ),
    path("customers/<int:pk>/recent/", api.CustomerRecentView.as_view(), name="customer-recent"),
    path("customers/<int:pk>/merge/", api.CustomerMergeView.as_view(), name="customer-merge"),
    path(
        "staff/discount-codes/",
        discount_api.DiscountCodeIssueView.as_view(),
        name="staff-discount-codes",
    ),
    path(
        "discount-codes/<str:code>/",
        discount_api.DiscountCodeCheckView.as_view(),
        name="discount-code-check",
    ),
    path(
        "customers/<int:pk>/export/",
        privacy_api.CustomerExportView.as_view(),
        name="customer-export",
    ),
    path(
        "customers/<int:pk>/erase/", privacy_api.CustomerEraseView.as_view(), name="customer-erase"
    ),
    path(
        "consents/confirm/<str:token>/",
        privacy_api.ConsentConfirmView.as_view(),
        name="consent-confirm",
    ),
    path("me/", api.MyProfileView.as_view(), name="me"),
    path("me/export/", privacy_api.MyExportView.as_view(), name="me-export"),
    path("me/recent/", api.MyRecentView.as_view(), name="me-recent"),
    path("me/confirm/", api.MyContactConfirmView.as_view(), name="me-confirm"),
    path("me/wishlist/", api.MyWishlistView.as_view(), name="me-wishlist"),
    path("me/wishlist/<str:sku>/", api.MyWishlistItemView.as_view(), name="me-wishlist-item"),
]
