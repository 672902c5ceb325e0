"""MySQL and MariaDB have no partial indexes: enforce the conditional unique constraints there with generated
columns under unique indexes (core.db.conditional_unique). Nothing changes on PostgreSQL or SQLite."""

from django.db import migrations

from core.db.conditional_unique import EnforceConditionalUnique


class Migration(migrations.Migration):
    dependencies = [("community", "0004_tag_names")]

    operations = [
        EnforceConditionalUnique(model_name="reply", name="community_reply_one_best_answer_per_post"),
        EnforceConditionalUnique(model_name="vote", name="community_vote_one_per_member_post"),
        EnforceConditionalUnique(model_name="vote", name="community_vote_one_per_member_reply"),
        EnforceConditionalUnique(model_name="report", name="community_report_one_open_per_member_post"),
        EnforceConditionalUnique(model_name="report", name="community_report_one_open_per_member_reply"),
    ]
