"""Periodic registry work on the job engine (scheduled with django-celery-beat, editable in the admin)."""

from celery import shared_task

from .checks import check_services, checkable_services


@shared_task(name="registry.check_services")
def probe_services() -> dict:
    """The active health probes of ``manage.py check_services``, for every enabled service."""
    outcomes = check_services(checkable_services())
    return {
        "checked": len(outcomes),
        "passing": sum(o.probe.passing for o in outcomes),
        "required_unhealthy": [o.service.name for o in outcomes if o.required_unhealthy],
    }
