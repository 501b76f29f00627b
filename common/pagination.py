from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import pagination
from rest_framework.exceptions import ValidationError


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        # A page_size that is no whole number is refused (DRF would quietly use the default);
        # 0 or less still means the default, more than the maximum the maximum.
        raw = request.query_params.get(self.page_size_query_param)
        if raw not in (None, ""):
            try:
                int(raw)
            except ValueError:
                raise ValidationError({self.page_size_query_param: ["A whole number."]})
        return super().get_page_size(request)


# For views that page by hand (their response carries more than the page).
PAGE_PARAMETERS = [
    OpenApiParameter("page", OpenApiTypes.INT, description="A page number (from 1)."),
    OpenApiParameter(
        "page_size", OpenApiTypes.INT, description="Results per page (default 20, at most 100)."
    ),
]
