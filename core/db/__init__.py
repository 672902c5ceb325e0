"""PostgreSQL read replicas: health (``replicas``), the per-request read decision (``reads``), the database
router (``router``) and the middleware that lets requests read from replicas (``middleware``).

See docs/architecture.md, "Read replicas"."""
