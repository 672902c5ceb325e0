import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from accounts.roles import ADMIN


class Command(BaseCommand):
    help = "Make sure a superuser exists; the first time, create one and print its generated password."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@example.com")

    def handle(self, *args, username, email, **options):
        User = get_user_model()
        existing = User.objects.filter(username=username).first()
        if existing is not None:
            self.stdout.write(f"Admin user '{username}' already exists (its password was printed when it was created).")
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email=email, password=password)
        user.groups.add(*Group.objects.filter(name=ADMIN))
        self.stdout.write(self.style.SUCCESS("Created admin user for the admin site and the API:"))
        self.stdout.write(f"    username: {username}")
        self.stdout.write(f"    password: {password}")
