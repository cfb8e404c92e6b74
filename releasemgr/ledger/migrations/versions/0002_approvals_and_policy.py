"""approvals; the policy in force per environment

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL policy: not recorded yet; the first command records release.toml's (then only
    # `release policy apply` changes it)
    with op.batch_alter_table('environment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('policy', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('retired_at', sa.String(), nullable=True))

    op.create_table('approval',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('environment_id', sa.Integer(), nullable=False),
    sa.Column('approver', sa.String(), nullable=False),
    sa.Column('approver_key', sa.String(), nullable=False),
    sa.Column('ticket', sa.String(), nullable=True),
    sa.Column('reason', sa.String(), nullable=True),
    sa.Column('at', sa.String(), nullable=False),
    sa.Column('expires_at', sa.String(), nullable=False),
    sa.Column('used_at', sa.String(), nullable=True),
    sa.Column('used_by', sa.String(), nullable=True),
    sa.ForeignKeyConstraint(['environment_id'], ['environment.id'], ),
    sa.ForeignKeyConstraint(['version_id'], ['version.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('approval', schema=None) as batch_op:
        batch_op.create_index('ix_approval_version_env', ['version_id', 'environment_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('approval', schema=None) as batch_op:
        batch_op.drop_index('ix_approval_version_env')
    op.drop_table('approval')
    with op.batch_alter_table('environment', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
        batch_op.drop_column('policy')
