"""Django's model permissions, read in one query per login instead of two."""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Q

from common.compiled import CompiledQuery


def _permission_names(permissions):
    return permissions.values_list("content_type__app_label", "codename").order_by().distinct()


# Asked on every staff request: compiled once per process (common.compiled).
_ALL_PERMISSIONS = CompiledQuery(lambda: _permission_names(Permission.objects.all()))
_PERMISSIONS_OF = CompiledQuery(
    lambda user: _permission_names(
        Permission.objects.filter(Q(user__pk=user) | Q(group__user__pk=user))
    )
)


class PermissionsBackend(ModelBackend):
    """ModelBackend whose `has_perm` reads a login's own and its groups' permissions together.

    Every staff request asks it once (the access rule); the answer is kept on the user object for
    the request, as ModelBackend does.
    """

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            rows = (
                _ALL_PERMISSIONS.rows()
                if user_obj.is_superuser
                else _PERMISSIONS_OF.rows(user=user_obj.pk)
            )
            user_obj._perm_cache = {f"{app_label}.{codename}" for app_label, codename in rows}
        return user_obj._perm_cache
