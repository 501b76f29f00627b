from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

# The admin (and its login page, where the desk logs in too) is branded as the product.
admin.site.site_header = "Omnis"
admin.site.site_title = "Omnis"
admin.site.index_title = _("Backoffice")

urlpatterns = [
    path("admin/", admin.site.urls),
    # POST /i18n/setlang/ (Django's set_language): the desk's language switcher.
    path("i18n/", include("django.conf.urls.i18n")),
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
