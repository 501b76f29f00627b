from django.urls import path

from orders.api import orders, reservations, returns, sales, search, segments, sizes
from orders.insights import api as insights

urlpatterns = [
    *orders.urlpatterns,
    *reservations.urlpatterns,
    *returns.urlpatterns,
    *sales.urlpatterns,
    *insights.urlpatterns,
    path("customers/<int:pk>/sizes/", sizes.CustomerSizesView.as_view(), name="customer-sizes"),
    path("me/sizes/", sizes.MySizesView.as_view(), name="me-sizes"),
    path("segments/<int:pk>/", segments.SegmentDetailView.as_view(), name="segment-detail"),
    path(
        "segments/<int:pk>/members.csv",
        segments.SegmentMembersCsvView.as_view(),
        name="segment-members-csv",
    ),
    path("staff/campaigns/<str:tag>/", segments.CampaignView.as_view(), name="campaign"),
    path("staff/search/", search.StaffSearchView.as_view(), name="staff-search"),
]
