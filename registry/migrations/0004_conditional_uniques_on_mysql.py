"""MySQL and MariaDB have no partial indexes: enforce the conditional unique constraints there with generated
columns under unique indexes (core.db.conditional_unique). Nothing changes on PostgreSQL or SQLite."""

from django.db import migrations

from core.db.conditional_unique import EnforceConditionalUnique


class Migration(migrations.Migration):
    dependencies = [("registry", "0003_tag_names")]

    operations = [
        EnforceConditionalUnique(model_name="service", name="registry_service_name_live_unique"),
    ]
