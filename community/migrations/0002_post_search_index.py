"""The GIN index behind post search, on PostgreSQL only (SQLite searches by substring).

Its expression is the one ``community.selectors.post_search_vector()`` produces, so the
planner uses it for ``@@`` matches."""

from django.db import migrations

INDEX = "community_post_search_gin"
CREATE = f"""
CREATE INDEX IF NOT EXISTS {INDEX} ON community_post USING GIN ((
    setweight(to_tsvector('english'::regconfig, COALESCE(title, '')), 'A')
    || setweight(to_tsvector('english'::regconfig, COALESCE(body, '')), 'B')
))
"""


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("community", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
