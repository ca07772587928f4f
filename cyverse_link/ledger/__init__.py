"""The state ledger (SQLAlchemy): what happened to every file and run, its migrations, and a
run's serialised writes (``journal``)."""
