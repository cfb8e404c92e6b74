"""deployments keep a heartbeat (host, pid, heartbeat_at); running builds and deployments are
found by an index on their status

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # deployments made before 0003 have no host: the liveness check uses their heartbeat
    # (their start time), so one left `running` is abandoned by the next write
    with op.batch_alter_table('deployment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('host', sa.String(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('pid', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', sa.String(), nullable=True))
        batch_op.create_index('ix_deployment_status', ['status'], unique=False)
    with op.batch_alter_table('build', schema=None) as batch_op:
        batch_op.create_index('ix_build_status', ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('build', schema=None) as batch_op:
        batch_op.drop_index('ix_build_status')
    with op.batch_alter_table('deployment', schema=None) as batch_op:
        batch_op.drop_index('ix_deployment_status')
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('pid')
        batch_op.drop_column('host')
