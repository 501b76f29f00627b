from django.urls import path

from common.api import LogoutView, ObtainTokenView
from common.webhook_api import (
    WebhookDeliveryListView,
    WebhookDetailView,
    WebhookListCreateView,
    WebhookRedeliverView,
)

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="auth-token"),
    path("auth/logout/", LogoutView.as_view(), name="auth-logout"),
    path("webhooks/", WebhookListCreateView.as_view(), name="webhooks"),
    path("webhooks/<int:pk>/", WebhookDetailView.as_view(), name="webhook"),
    path(
        "webhooks/<int:pk>/deliveries/",
        WebhookDeliveryListView.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhooks/<int:pk>/deliveries/<str:event_id>/redeliver/",
        WebhookRedeliverView.as_view(),
        name="webhook-redeliver",
    ),
]
