"""The language of a request: Django's LocaleMiddleware for the desk and the admin (the language
cookie set by the desk's switcher, then the browser's Accept-Language, else LANGUAGE_CODE), and
always settings.API_LANGUAGE for the API.

The API's error messages, like its codes, are part of the contract (docs/api.md): a client that
sends no Accept-Language must get what the contract says, not the retailer's German.
"""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import translation

API_PREFIX = "/api/"


class LocaleMiddleware(DjangoLocaleMiddleware):
    def process_request(self, request):
        if request.path_info.startswith(API_PREFIX):
            translation.activate(settings.API_LANGUAGE)
            request.LANGUAGE_CODE = settings.API_LANGUAGE
            return
        super().process_request(request)

    def process_response(self, request, response):
        if request.path_info.startswith(API_PREFIX):
            return response  # no Content-Language / Vary: Accept-Language on the API
        return super().process_response(request, response)
