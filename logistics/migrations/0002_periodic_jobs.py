"""Periodic jobs on the job engine: the registry's active health probes every five minutes and the
purge of expired API tokens every hour. Operators change or pause them in the admin (Periodic tasks)."""

from django.db import migrations

JOBS = [
    ("Registry: probe service health", "registry.check_services", 5, "minutes"),
    ("Accounts: purge expired API tokens", "accounts.purge_expired_tokens", 1, "hours"),
]


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, period in JOBS:
        schedule, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": schedule, "enabled": True})


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, *_ in JOBS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("logistics", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
