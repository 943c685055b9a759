"""The shared database's first schema: the catalog of every knowledge base (files, chunks, meta
with the generation), conversations and their turns, users, sign-in sessions and failed logins,
feedback, and knowledge-base access rules. The same columns as the embedded SQLite files, plus
the knowledge base's name in each catalog key and an insertion order where SQLite used rowid.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_files",
        sa.Column("kb", sa.Text, primary_key=True), sa.Column("sha256", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False), sa.Column("path", sa.Text, nullable=False),
        sa.Column("format", sa.Text, nullable=False), sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("pages", sa.Integer), sa.Column("chunks", sa.Integer, nullable=False, server_default="0"),
        sa.Column("added_at", sa.Double, nullable=False),
        sa.Column("state", sa.Text, sa.CheckConstraint("state IN ('pending', 'ready')"), nullable=False),
        sa.Column("chunking", sa.Text))
    op.create_index("catalog_files_path", "catalog_files", ["kb", "path"])
    op.create_index("catalog_files_name", "catalog_files", ["kb", "name"])
    op.create_table(
        "catalog_chunks",
        sa.Column("kb", sa.Text, primary_key=True), sa.Column("id", sa.Text, primary_key=True),
        sa.Column("sha256", sa.Text, nullable=False), sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("page", sa.Integer), sa.Column("text", sa.Text, nullable=False),
        sa.Column("tokens", sa.Text, nullable=False), sa.Column("heading", sa.Text, nullable=False, server_default=""),
        sa.Column("ocr", sa.Integer, nullable=False, server_default="0"))
    op.create_index("catalog_chunks_sha", "catalog_chunks", ["kb", "sha256"])
    op.create_table(
        "catalog_meta",
        sa.Column("kb", sa.Text, primary_key=True), sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False), sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False))

    op.create_table(
        "conversations",
        sa.Column("id", sa.Text, primary_key=True), sa.Column("kb", sa.Text, nullable=False),
        sa.Column("owner", sa.Text), sa.Column("title", sa.Text, nullable=False, server_default=""),
        sa.Column("created", sa.Double, nullable=False), sa.Column("updated", sa.Double, nullable=False),
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False))
    op.create_index("conversations_by_time", "conversations", [sa.text("updated DESC")])
    op.create_table(
        "turns",
        sa.Column("conversation_id", sa.Text, sa.ForeignKey("conversations.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("n", sa.Integer, primary_key=True), sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False), sa.Column("sources", sa.Text, nullable=False),
        sa.Column("refused", sa.Integer, nullable=False), sa.Column("standalone_question", sa.Text),
        sa.Column("error", sa.Integer, nullable=False), sa.Column("created", sa.Double, nullable=False),
        sa.Column("stopped", sa.Integer, nullable=False, server_default="0"))

    op.create_table(
        "users",
        sa.Column("name", sa.Text, primary_key=True), sa.Column("hash", sa.LargeBinary, nullable=False),
        sa.Column("role", sa.Text, nullable=False), sa.Column("created", sa.Double, nullable=False))
    op.create_table(
        "login_failures",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("key", sa.Text, nullable=False), sa.Column("at", sa.Double, nullable=False))
    op.create_index("login_failures_by_key", "login_failures", ["key", "at"])
    op.create_table(
        "sessions",
        sa.Column("token", sa.Text, primary_key=True),
        sa.Column("user", sa.Text, sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False),
        sa.Column("created", sa.Double, nullable=False), sa.Column("last_seen", sa.Double, nullable=False))

    op.create_table(
        "feedback",
        sa.Column("conversation_id", sa.Text, primary_key=True), sa.Column("turn", sa.Integer, primary_key=True),
        sa.Column("user", sa.Text, primary_key=True, server_default=""), sa.Column("kb", sa.Text, nullable=False),
        sa.Column("rating", sa.Integer, nullable=False), sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("question", sa.Text, nullable=False), sa.Column("answer", sa.Text, nullable=False),
        sa.Column("created", sa.Double, nullable=False), sa.Column("updated", sa.Double, nullable=False))
    op.create_table(
        "kb_access",
        sa.Column("kb", sa.Text, primary_key=True), sa.Column("readers", sa.Text, nullable=False),
        sa.Column("writers", sa.Text, nullable=False))


def downgrade() -> None:
    for table in ("kb_access", "feedback", "sessions", "login_failures", "users", "turns", "conversations",
                  "catalog_meta", "catalog_chunks", "catalog_files"):
        op.drop_table(table)
