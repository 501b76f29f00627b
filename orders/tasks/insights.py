"""The insights' rollups: the last days are counted again periodically (beat)."""

from celery import shared_task

from orders.insights import rollups


@shared_task(time_limit=30 * 60, soft_time_limit=25 * 60)
def refresh_insights() -> int:
    """Periodic: count the last few days again (rollups.REFRESH_DAYS); returns the days counted."""
    return rollups.refresh_recent()
