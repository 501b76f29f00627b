from django.urls import path

from inventory import api

urlpatterns = [
    path("availability/", api.AvailabilityView.as_view(), name="availability"),
    path("staff/stock/receipts/", api.StockReceiptView.as_view(), name="staff-stock-receipts"),
    path(
        "staff/stock/adjustments/",
        api.StockAdjustmentView.as_view(),
        name="staff-stock-adjustments",
    ),
    path("staff/transfers/", api.StaffTransferListView.as_view(), name="staff-transfers"),
    path(
        "staff/transfers/<int:pk>/dispatch/",
        api.TransferDispatchView.as_view(),
        name="staff-transfer-dispatch",
    ),
    path(
        "staff/transfers/<int:pk>/receive/",
        api.TransferReceiveView.as_view(),
        name="staff-transfer-receive",
    ),
]
