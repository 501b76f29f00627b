from django.apps import AppConfig
from django.db.models.signals import post_migrate


class StoresConfig(AppConfig):
    name = "stores"

    def ready(self) -> None:
        post_migrate.connect(_sync_role_groups, dispatch_uid="stores-sync-role-groups")


def _sync_role_groups(sender, using="default", **kwargs) -> None:
    """After every migrate the role groups carry exactly the permissions declared for them, so a
    permission added to the table reaches every staff login on upgrade."""
    if sender.label != "orders":  # the last app whose permissions the roles hand out
        return
    from stores.services import ensure_staff_groups

    ensure_staff_groups()
