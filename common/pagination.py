from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import pagination
from rest_framework.exceptions import ValidationError


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    last_page_strings = ()  # the schema says page is a number

    def paginate_queryset(self, queryset, request, view=None):
        # page and page_size are whole numbers given at most once (DRF would quietly take the
        # last of several, or the default for one that is no number). A page past the end is
        # still 404; page_size 0 or less means the default, more than 100 means 100.
        for name in (self.page_query_param, self.page_size_query_param):
            values = request.query_params.getlist(name)
            if len(values) > 1:
                raise ValidationError({name: ["Give it once."]})
            if values:
                try:
                    int(values[0])
                except ValueError:
                    raise ValidationError({name: ["A whole number."]})
        return super().paginate_queryset(queryset, request, view)


# For views that page by hand (their response carries more than the page).
PAGE_PARAMETERS = [
    OpenApiParameter("page", OpenApiTypes.INT, description="A page number (from 1)."),
    OpenApiParameter(
        "page_size", OpenApiTypes.INT, description="Results per page (default 20, at most 100)."
    ),
]
