"""MySQL and MariaDB have no partial indexes: enforce the conditional unique constraints there with generated
columns under unique indexes (core.db.conditional_unique). Nothing changes on PostgreSQL or SQLite."""

from django.db import migrations

from core.db.conditional_unique import EnforceConditionalUnique


class Migration(migrations.Migration):
    dependencies = [("carriers", "0008_audit_fk_indexes")]

    operations = [
        EnforceConditionalUnique(model_name="carrier", name="carrier_mc_unique_alive"),
        EnforceConditionalUnique(model_name="load", name="load_id_unique_alive"),
    ]
