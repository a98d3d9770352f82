"""Alembic environment of bench/run's peer chain (copied there as env.py).

As `alembic init` writes it, less the model metadata: the database URL
comes from `-x url=...`, and every revision runs in its own transaction
(transaction_per_migration), like host and the psql reference.
"""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, make_url, pool

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name)


def run_migrations_offline():
    """`upgrade head --sql`: no database, the SQL goes to stdout."""
    context.configure(dialect_name="postgresql", literal_binds=True, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    # psycopg2, as bench/run --install-peers installs it: SQLAlchemy 2.1's
    # default driver for postgresql:// URLs is psycopg 3.
    url = make_url(context.get_x_argument(as_dictionary=True)["url"]).set(drivername="postgresql+psycopg2")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
