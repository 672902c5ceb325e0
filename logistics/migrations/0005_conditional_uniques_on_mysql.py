"""MySQL and MariaDB have no partial indexes: enforce the conditional unique constraints there with generated
columns under unique indexes (core.db.conditional_unique). Nothing changes on PostgreSQL or SQLite."""

from django.db import migrations

from core.db.conditional_unique import EnforceConditionalUnique


class Migration(migrations.Migration):
    dependencies = [("logistics", "0004_sweeper_job")]

    operations = [
        EnforceConditionalUnique(model_name="customer", name="logistics_customer_reference_live_unique"),
        EnforceConditionalUnique(model_name="vehicle", name="logistics_vehicle_reference_live_unique"),
        EnforceConditionalUnique(model_name="order", name="logistics_order_reference_live_unique"),
    ]
