from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


class StoresConfig(AppConfig):
    name = "stores"

    def ready(self) -> None:
        post_migrate.connect(_sync_role_groups, dispatch_uid="stores-sync-role-groups")
        from stores.models import Store
        from stores.selectors import forget_store_directory

        for signal in (post_save, post_delete):
            signal.connect(forget_store_directory, sender=Store, dispatch_uid="stores-directory")


def _sync_role_groups(sender, using="default", **kwargs) -> None:
    """After every migrate the role groups carry exactly the permissions declared for them, so a
    permission added to the table reaches every staff login on upgrade."""
    if sender.label != "orders":  # the last app whose permissions the roles hand out
        return
    from stores.services import ensure_staff_groups

    ensure_staff_groups()
