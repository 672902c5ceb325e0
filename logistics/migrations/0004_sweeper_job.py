"""The sweeper on the job engine: every minute, fail the decisions whose worker stopped mid-solve
(``logistics.fail_stuck_decisions``). Operators change or pause it in the admin (Periodic tasks)."""

from django.db import migrations

NAME = "Logistics: fail decisions whose worker stopped"
TASK = "logistics.fail_stuck_decisions"


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
        ("logistics", "0003_audit_fk_indexes"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
