"""Re-review cases (年度复核): a case has a purpose, and re-review cases their lease and campaign.

Existing cases are admission cases (the server default). The one-case-per-application unique
constraint becomes a partial unique index over admission cases, and a second one allows one
re-review case per application and campaign.

Frozen DDL: this revision states the change as it was when written.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "verification_cases",
        sa.Column("purpose", sa.Text(), server_default=sa.text("'admission'"), nullable=False),
    )
    op.add_column("verification_cases", sa.Column("lease_id", sa.UUID(), nullable=True))
    op.add_column("verification_cases", sa.Column("campaign", sa.Integer(), nullable=True))
    op.create_check_constraint(
        "verification_case_purpose",
        "verification_cases",
        "purpose IN ('admission', 're_review')",
    )
    op.create_check_constraint(
        "verification_case_rereview_lease",
        "verification_cases",
        "(purpose = 're_review') = (lease_id IS NOT NULL AND campaign IS NOT NULL)",
    )
    op.create_index(
        "verification_cases_one_admission",
        "verification_cases",
        ["application_id"],
        unique=True,
        postgresql_where=sa.text("purpose = 'admission'"),
    )
    op.create_index(
        "verification_cases_one_rereview",
        "verification_cases",
        ["application_id", "campaign"],
        unique=True,
        postgresql_where=sa.text("purpose = 're_review'"),
    )
    op.drop_constraint(
        "verification_cases_application_id_key", "verification_cases", type_="unique"
    )


def downgrade() -> None:
    op.execute(
        "DELETE FROM department_requests WHERE case_id IN "
        "(SELECT case_id FROM verification_cases WHERE purpose = 're_review')"
    )
    op.execute("DELETE FROM verification_cases WHERE purpose = 're_review'")
    op.create_unique_constraint(
        "verification_cases_application_id_key", "verification_cases", ["application_id"]
    )
    op.drop_index("verification_cases_one_rereview", table_name="verification_cases")
    op.drop_index("verification_cases_one_admission", table_name="verification_cases")
    op.drop_constraint("verification_case_rereview_lease", "verification_cases", type_="check")
    op.drop_constraint("verification_case_purpose", "verification_cases", type_="check")
    op.drop_column("verification_cases", "campaign")
    op.drop_column("verification_cases", "lease_id")
    op.drop_column("verification_cases", "purpose")
