"""System checks of the database the platform runs on (run by ``migrate``, so ``make run`` stops with the fix)."""

from django.core import checks
from django.db import DatabaseError, connections


@checks.register(checks.Tags.database)
def mysql_time_zone_tables(app_configs=None, databases=None, **kwargs):
    """MySQL and MariaDB convert between named time zones only once their zone tables are loaded; without them
    every date counted in a zone (the desk's day, the dashboard's charts) comes back NULL."""
    errors = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "mysql":
            continue
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT CONVERT_TZ('2000-01-01 00:00:00', 'UTC', 'America/Chicago')")
                (converted,) = cursor.fetchone()
        except DatabaseError as exc:
            errors.append(
                checks.Error(f"Could not ask {alias} for its time zones: {type(exc).__name__}.", id="core.E101")
            )
            continue
        if converted is None:
            errors.append(
                checks.Error(
                    f"The database {alias} has no time zone tables, so dates in a time zone cannot be computed.",
                    hint="Load them once as the server's administrator: "
                    "mariadb-tzinfo-to-sql /usr/share/zoneinfo | mariadb -u root mysql "
                    "(MySQL: mysql_tzinfo_to_sql /usr/share/zoneinfo | mysql -u root mysql).",
                    id="core.E100",
                )
            )
    return errors
