"""Alembic environment: run migrations on the connection releasemgr passes in.

The SQLModel declaration (`releasemgr.ledger.models`) is imported only when a developer
autogenerates a revision (`alembic revision --autogenerate`), never when a ledger is
upgraded: migrations run without sqlmodel and pydantic.
"""

from alembic import context

connection = context.config.attributes.get("connection")


def _target_metadata():
    """The declared schema, for autogenerate only."""
    if not context.config.cmd_opts or not getattr(context.config.cmd_opts, "autogenerate", False):
        return None
    from sqlmodel import SQLModel

    import releasemgr.ledger.models  # noqa: F401  (registers the tables)

    return SQLModel.metadata


target_metadata = _target_metadata()

if connection is None:  # `alembic` CLI use by developers: needs sqlalchemy.url in the config
    from sqlalchemy import create_engine

    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
