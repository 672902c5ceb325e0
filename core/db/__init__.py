"""The database layer every app shares.

* ``locks``: row and transaction locks that hold on PostgreSQL, MySQL/MariaDB and SQLite alike.
* PostgreSQL read replicas: health (``replicas``), the per-request read decision (``reads``), the database router
  (``router``) and the middleware that lets requests read from replicas (``middleware``); see
  docs/architecture.md, "Read replicas".
"""
