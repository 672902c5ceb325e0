"""The events' jobs on beat: number any event whose own sequencer did not run (every 5 seconds), and delete events
older than EVENTS_RETENTION_DAYS (daily). Operators change or pause them in the admin (Periodic tasks)."""

from django.db import migrations

JOBS = {
    "Events: number events left unnumbered": ("events.assign_sequences", 5, "seconds"),
    "Events: delete events past their retention": ("events.prune", 1, "days"),
}


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, (task, every, period) in JOBS.items():
        schedule, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": schedule, "enabled": True})


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=JOBS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
