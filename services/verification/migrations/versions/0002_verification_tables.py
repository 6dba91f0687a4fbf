"""Verification tables: cases, department requests and answers, admission parameter sets.

The admission parameters of each category are seeded from the city configuration when the
service starts (``parameters.seed_from_city``), not here: the migration does not know which
city file the service will run with.

Revision ID: 0002
"""

from alembic import op

from services.verification.tables import (
    admission_parameter_sets,
    department_requests,
    metadata,
    verification_cases,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = [verification_cases, department_requests, admission_parameter_sets]


def upgrade() -> None:
    metadata.create_all(op.get_bind(), tables=TABLES)
    # History is kept forever: an approved parameter set can be neither changed nor deleted.
    op.execute(
        """
        CREATE FUNCTION admission_parameters_immutable() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'DELETE' OR OLD.status <> 'proposed' THEN
                RAISE EXCEPTION 'admission parameter set % is % and cannot change',
                    OLD.id, OLD.status;
            END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        """
        CREATE TRIGGER admission_parameters_immutable
        BEFORE UPDATE OR DELETE ON admission_parameter_sets
        FOR EACH ROW EXECUTE FUNCTION admission_parameters_immutable()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER admission_parameters_immutable ON admission_parameter_sets")
    op.execute("DROP FUNCTION admission_parameters_immutable()")
    metadata.drop_all(op.get_bind(), tables=list(reversed(TABLES)))
