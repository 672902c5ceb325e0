"""The follow-up announcer on the job engine: every minute, publish ``follow_up.due`` for the follow-ups whose due
time has passed (``carriers.announce_due_follow_ups``). Operators change or pause it in the admin (Periodic tasks)."""

from django.db import migrations

NAME = "Carriers: announce follow-ups that came due"
TASK = "carriers.announce_due_follow_ups"


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    schedule, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(name=NAME, defaults={"task": TASK, "interval": schedule, "enabled": True})


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("carriers", "0010_follow_up_due_announced"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
