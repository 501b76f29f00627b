"""Admin for API clients, login tokens, login events, the outbox and webhooks: keys and secrets
are shown once."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin

from common import outbox, webhooks
from common.auth import create_api_client_key, revoke_api_client
from common.models import (
    ApiClient,
    IdempotencyKey,
    LoginEvent,
    OutboxMessage,
    OutboxStatus,
    SentNotification,
    UserToken,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from common.services import revoke_user_tokens


class ReadOnlyInline(admin.TabularInline):
    """Rows shown inside another record (history, lines): to look at, never to edit."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields or super().get_readonly_fields(request, obj)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by the application: to look at, never to add, change or delete."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class HistoryAdmin(SimpleHistoryAdmin):
    """A record's change history (common.history) behind its History button: to read, never to
    revert or edit. Only records the admin's own list shows (its scoping) have a history here."""

    history_list_display = ["history_client"]

    def revert_disabled(self, request, obj=None) -> bool:
        return True

    def _check_visible(self, request, object_id) -> None:
        if request.user.is_superuser:
            return  # also the history of a deleted record
        if not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._check_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # simple-history saves a POSTed form here (a revert) whatever the button shows.
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied
        self._check_visible(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)


@admin.register(ApiClient)
class ApiClientAdmin(HistoryAdmin):
    list_display = ("name", "channel", "key_prefix", "is_active", "revoked_at", "created_at")
    list_filter = ("channel", "is_active")
    search_fields = ("name", "key_prefix")
    actions = ("revoke",)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("key_prefix",)
        # A key belongs to one channel for life; revoke and create another to change it.
        return ("channel", "key_prefix", "is_active", "revoked_at", "created_at", "updated_at")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "channel")
        return ("name", "channel", "key_prefix", "is_active", "revoked_at", "created_at")

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        client, key = create_api_client_key(name=obj.name, channel=obj.channel)
        # The admin goes on with `obj` (log entry, redirect): make it the saved client.
        obj.__dict__.update({k: v for k, v in client.__dict__.items() if not k.startswith("_")})
        obj._state.adding = False
        obj._state.db = client._state.db
        messages.success(
            request,
            f"The key of '{client.name}' is {key} — copy it now, it is not shown again.",
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        # Movements and timeline entries name the client: revoke instead of deleting.
        return False

    @admin.action(description="Revoke the selected API clients", permissions=["change"])
    def revoke(self, request, queryset):
        clients = list(queryset.filter(is_active=True))
        for client in clients:
            revoke_api_client(client)
        self.message_user(request, f"Revoked {len(clients)} API client(s).", messages.SUCCESS)


@admin.register(UserToken)
class UserTokenAdmin(ReadOnlyAdmin):
    list_display = (
        "user",
        "kind",
        "key_prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("kind", ("revoked_at", admin.EmptyFieldListFilter))
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email", "key_prefix")
    actions = ("revoke",)

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("common.change_usertoken")

    @admin.action(description="Revoke the selected tokens", permissions=["revoke"])
    def revoke(self, request, queryset):
        count = revoke_user_tokens(queryset)
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)


@admin.register(LoginEvent)
class LoginEventAdmin(ReadOnlyAdmin):
    """Logins, failed logins, API tokens issued and logouts (common.audit)."""

    list_display = ("at", "kind", "username", "user", "ip", "path", "user_agent")
    list_filter = ("kind", "path")
    list_select_related = ("user",)
    search_fields = ("username", "ip")
    date_hierarchy = "at"
    show_full_result_count = False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "principal", "method", "path", "key", "response_status")
    list_filter = ("method", "response_status")
    search_fields = ("key", "principal", "path")
    show_full_result_count = False


@admin.register(SentNotification)
class SentNotificationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "template", "recipient", "sent_at", "key")
    list_filter = ("template",)
    search_fields = ("key", "recipient")
    show_full_result_count = False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    """Side effects waiting, done or given up: a dead one can be sent again once the cause is fixed."""

    list_display = ("id", "topic", "status", "attempts", "created_at", "next_attempt_at", "sent_at")
    list_filter = ("status", "topic")
    search_fields = ("key", "topic", "last_error")
    readonly_fields = (
        "topic",
        "payload",
        "key",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "sent_at",
        "last_error",
    )
    show_full_result_count = False
    actions = ("retry",)

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("common.change_outboxmessage")

    @admin.action(description="Send the selected dead messages again", permissions=["retry"])
    def retry(self, request, queryset):
        count = outbox.retry_dead(
            queryset.filter(status=OutboxStatus.DEAD).values_list("pk", flat=True)
        )
        self.message_user(request, f"{count} message(s) queued again.", messages.SUCCESS)


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ReadOnlyAdmin):
    # The secret is never shown: the client saw it once, when it subscribed.
    fields = ("client", "url", "events", "created_at", "deleted_at")
    list_display = ("client", "url", "events", "created_at", "deleted_at")
    list_filter = (("deleted_at", admin.EmptyFieldListFilter), "client")
    list_select_related = ("client",)
    search_fields = ("url", "client__name")


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ("number", "at", "status_code", "error", "state")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    fields = (
        "subscription",
        "event_id",
        "event_type",
        "subject",
        "sequence",
        "state",
        "attempts",
        "last_status_code",
        "created_at",
        "occurred_at",
        "delivered_at",
        "data",
    )
    list_display = (
        "created_at",
        "event_type",
        "event_id",
        "subscription",
        "state",
        "attempts",
        "last_status_code",
    )
    list_filter = ("state", "event_type")
    list_select_related = ("subscription__client",)
    search_fields = ("event_id", "subject")
    inlines = (WebhookAttemptInline,)
    actions = ("redeliver",)
    show_full_result_count = False

    def has_redeliver_permission(self, request) -> bool:
        return request.user.has_perm("common.change_webhookdelivery")

    @admin.action(
        description="Send again under the same event id (delivered or dead only)",
        permissions=["redeliver"],
    )
    def redeliver(self, request, queryset):
        count = webhooks.replay(delivery_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"Queued {count} delivery(ies) again.", messages.SUCCESS)
