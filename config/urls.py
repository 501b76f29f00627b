from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("config.api_urls")),
    path("desk/", include("orders.desk.urls")),
    path("", RedirectView.as_view(url="/desk/", permanent=False)),
]

handler400 = "common.exceptions.bad_request"
handler403 = "common.exceptions.permission_denied"
handler404 = "common.exceptions.page_not_found"
handler500 = "common.exceptions.server_error"
