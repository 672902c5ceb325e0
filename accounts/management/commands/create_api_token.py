from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from knox.models import AuthToken


class Command(BaseCommand):
    help = (
        "Create an API token for a service client (such as the voice agent) and print it once. "
        "Only a hash is stored; the token cannot be shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--days", type=int, default=90, help="Days until the token expires (default 90).")

    def handle(self, *args, username, days, **options):
        if days < 1 or days > 3650:
            raise CommandError("--days must be between 1 and 3650.")
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive.")
        instance, token = AuthToken.objects.create(user=user, expiry=timedelta(days=days))
        self.stderr.write(f"Token for {username}, expires {instance.expiry:%Y-%m-%d %H:%M %Z}. Store it now:")
        self.stdout.write(token)
