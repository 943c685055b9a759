"""Alembic environment for DocChat's shared database. Run programmatically by
vectorstore.database.Database.upgrade(), which passes the connection (under a lock)."""
from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
