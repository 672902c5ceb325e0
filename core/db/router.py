"""The database router, in DATABASE_ROUTERS only when DATABASE_REPLICA_URLS names replicas.

Writes, migrations and reads inside a transaction are the primary's; where a read goes otherwise is
``core.db.reads``' decision. Replicas hold the primary's rows, so relations across aliases are allowed."""

from django.db import DEFAULT_DB_ALIAS

from . import reads


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        return reads.read_alias()

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS
