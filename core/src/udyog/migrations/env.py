"""alembic environment for every Udyog branch (core and plugins).

Configured in code by :mod:`udyog.migrate`: the connection, the metadata and
the version locations arrive through ``config.attributes``.
"""

from __future__ import annotations

from alembic import context

from udyog.migrate import compare_type

config = context.config
attributes = config.attributes
connection = attributes["connection"]

context.configure(
    connection=connection,
    target_metadata=attributes["metadata"],
    include_object=attributes.get("include_object"),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=compare_type,
    transaction_per_migration=True,
    on_version_apply=attributes.get("on_version_apply"),
    process_revision_directives=attributes.get("process_revision_directives"),
    user_module_prefix="sdk_models.",
)

with context.begin_transaction():
    context.run_migrations()
