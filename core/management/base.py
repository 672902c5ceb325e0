"""What commands that write for someone share."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.context import acting_as


class ActingCommand(BaseCommand):
    """A command whose writes can be made in a user's name: ``--as-user USERNAME`` attributes them
    (``created_by``/``updated_by``, change history) as if that user had made them through the API.
    Without it they carry no author, as any write made outside a request."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument(
            "--as-user", metavar="USERNAME", help="The active user the writes are made for (their author)."
        )
        return parser

    def execute(self, *args, **options):
        username = options.get("as_user")
        if not username:
            return super().execute(*args, **options)
        user = get_user_model()._default_manager.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        with acting_as(user):
            return super().execute(*args, **options)
