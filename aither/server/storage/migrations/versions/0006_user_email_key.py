"""Users: email_key, the caseless form of the e-mail, unique per organisation

Revision ID: 0006
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aither.server.storage.accounts import email_key

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable: SQLite adds it in place, without rebuilding users (which api_keys references)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_key", sa.String(length=320), nullable=True))
    connection = op.get_bind()
    users = sa.table(
        "users", sa.column("id"), sa.column("org_id"), sa.column("email"), sa.column("email_key")
    )
    taken: set[tuple[str, str]] = set()
    rows = connection.execute(sa.select(users.c.id, users.c.org_id, users.c.email).order_by(users.c.id))
    for user_id, org_id, email in rows.all():
        key = email_key(email)
        if (org_id, key) in taken:
            # SQLite's ASCII-only lower() let a case variant of a non-ASCII address in before;
            # the older user keeps the key, this one stays reachable by id and can be removed
            key = f"{key}#{user_id}"
        taken.add((org_id, key))
        connection.execute(users.update().where(users.c.id == user_id).values(email_key=key))
    op.create_index("ix_users_org_id_email_key", "users", ["org_id", "email_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_users_org_id_email_key", table_name="users")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email_key")
