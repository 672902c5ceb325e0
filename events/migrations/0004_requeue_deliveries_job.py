"""Webhook deliveries on beat: every minute, queue again the pending deliveries that are due and have no message
(the broker was down when they were queued, or a worker died mid-attempt): ``events.requeue_due_deliveries``.
Operators change or pause it in the admin (Periodic tasks)."""

from django.db import migrations

NAME = "Events: queue due webhook deliveries again"
TASK = "events.requeue_due_deliveries"


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    schedule, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(name=NAME, defaults={"task": TASK, "interval": schedule, "enabled": True})


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0003_endpoint_previous_secret"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
