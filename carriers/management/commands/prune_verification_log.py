import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from carriers import services

UNITS = {"d": "days", "h": "hours", "w": "weeks"}


def parse_age(value: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([dhw])", value.strip())
    if not match:
        raise CommandError(f"--older-than takes a number and a unit (d, h or w), e.g. 365d; got {value!r}.")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


class Command(BaseCommand):
    help = "Delete FMCSA verification lookups older than a given age (the log is otherwise kept forever)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, help="Age such as 365d, 12w or 48h.")

    def handle(self, *args, older_than, **options):
        deleted = services.verification_log_prune(older_than=parse_age(older_than))
        self.stdout.write(self.style.SUCCESS(f"Deleted {deleted} verification lookup(s) older than {older_than}."))
