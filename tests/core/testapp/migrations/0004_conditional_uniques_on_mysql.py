from django.db import migrations

from core.db.conditional_unique import EnforceConditionalUnique


class Migration(migrations.Migration):
    dependencies = [("testapp", "0003_audit_fk_indexes")]

    operations = [EnforceConditionalUnique(model_name="widget", name="widget_name_live_unique")]
