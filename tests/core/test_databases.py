"""What each supported database is set to on connect, and what the platform relies on holding there."""

import pytest
from django.db import DataError, IntegrityError, connection, transaction

from community.models import Post
from config.settings.base import configure_database
from tests.community.factories import PostFactory


def test_a_mysql_url_is_configured_for_what_the_platform_relies_on():
    db = configure_database(
        {"ENGINE": "django.db.backends.mysql", "NAME": "freight", "HOST": "db", "PORT": 3306, "OPTIONS": {}}
    )
    options = db["OPTIONS"]
    assert (options["charset"], options["collation"]) == ("utf8mb4", "utf8mb4_uca1400_ai_ci")
    assert options["isolation_level"] == "read committed"
    for part in ("STRICT_ALL_TABLES", "NO_ENGINE_SUBSTITUTION", "SIMULTANEOUS_ASSIGNMENT", "time_zone = '+00:00'"):
        assert part in options["init_command"]
    assert db["TEST"] == {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_uca1400_ai_ci"}
    assert db["CONN_HEALTH_CHECKS"] is True


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "mysql", reason="MySQL/MariaDB session settings")
def test_each_mysql_connection_runs_with_the_settings_it_was_given():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT @@SESSION.sql_mode, @@SESSION.time_zone, @@SESSION.character_set_connection, "
            "@@SESSION.collation_connection, @@SESSION.tx_isolation"
        )
        sql_mode, time_zone, charset, collation, isolation = cursor.fetchone()
    assert {"STRICT_TRANS_TABLES", "STRICT_ALL_TABLES", "NO_ZERO_DATE"} <= set(sql_mode.split(","))
    assert (time_zone, charset, isolation) == ("+00:00", "utf8mb4", "READ-COMMITTED")
    assert collation == "utf8mb4_uca1400_ai_ci"


@pytest.mark.django_db
def test_forum_text_in_any_script_and_emoji_comes_back_unchanged():
    text = "شحنة مبردة من دالاس إلى شيكاغو 🚚❄️ — 東京"
    post = PostFactory(title=text[:40], body=text)
    stored = Post.objects.get(pk=post.pk)
    assert (stored.title, stored.body) == (text[:40], text)


@pytest.mark.django_db
def test_a_value_too_long_is_refused_not_truncated():
    """Strict mode on MySQL/MariaDB (PostgreSQL refuses anyway; SQLite does not check lengths)."""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    post = PostFactory()
    with pytest.raises((DataError, IntegrityError)), transaction.atomic():
        Post.all_objects.filter(pk=post.pk).update(title="x" * 1000)
    assert Post.objects.get(pk=post.pk).title == post.title


def test_row_locks_go_through_the_one_helper_that_holds_on_every_database():
    """``select_for_update(of=...)`` fails on MySQL/MariaDB: project code locks rows with core.db.locks.lock_rows."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for path in root.glob("*/**/*.py")
        if not path.is_relative_to(root / ".venv")
        and not path.is_relative_to(root / "tests")
        and path != root / "core" / "db" / "locks.py"
        and "select_for_update(of=" in path.read_text()
    ]
    assert offenders == []
