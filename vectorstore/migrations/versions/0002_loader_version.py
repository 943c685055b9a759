"""Each catalog file records the version of the loaders its passages were made by
(loaders.LOADER_VERSION). Files stored before get 0: older than any version, so they count as
"to re-index" until `docchat reindex` (or the page's re-index) cuts them again.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("catalog_files", sa.Column("loader_version", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("catalog_files", "loader_version")
