-- The platform's two database roles (docs/operations.md, "Database roles"). Idempotent, and safe
-- when several copies run at once. Run as a superuser, for example
--   psql -X -q -v ON_ERROR_STOP=1 -d postgres -f deploy/postgres/roles.sql \
--        [-v owner=housing_owner] [-v app=housing_app] [-v owner_password=…] [-v app_password=…]
-- (deploy/postgres/setup_roles.sh does, for scripts/ensure_infra.sh and docker-compose.yml).
--   owner: runs `python -m services.<name> migrate`; creates and owns every service database
--          and its tables (CREATEDB, nothing else).
--   app:   what the services connect as; owns nothing, may not create anything; migrate grants
--          it row privileges on the tables (shared/migrations.py).
-- An empty password leaves the role's password as it is (none: trust or peer authentication).
\if :{?owner}
\else
\set owner housing_owner
\endif
\if :{?app}
\else
\set app housing_app
\endif
\if :{?owner_password}
\else
\set owner_password ''
\endif
\if :{?app_password}
\else
\set app_password ''
\endif
SET housing.owner_role = :'owner';
SET housing.app_role = :'app';
SET housing.owner_password = :'owner_password';
SET housing.app_password = :'app_password';

DO $roles$
DECLARE
    owner_role text := current_setting('housing.owner_role');
    app_role text := current_setting('housing.app_role');
    role_name text;
BEGIN
    -- Two sessions creating or altering the same role race (a duplicate key, "tuple
    -- concurrently updated"); the second waits here and then finds the roles made.
    PERFORM pg_advisory_xact_lock(hashtext('housing platform database roles'));
    IF owner_role = app_role THEN
        RAISE EXCEPTION 'the owner and the application role must differ (both %)', owner_role;
    END IF;
    FOREACH role_name IN ARRAY ARRAY[owner_role, app_role] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name AND rolsuper) THEN
            -- Never strip an existing superuser (postgres) of its rights by a wrong name.
            RAISE EXCEPTION 'role % is a superuser; choose another name', role_name;
        END IF;
        BEGIN
            EXECUTE format('CREATE ROLE %I', role_name);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- made earlier, or by a session that did not take the lock
        END;
    END LOOP;
    EXECUTE format(
        'ALTER ROLE %I LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
        owner_role);
    EXECUTE format(
        'ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS '
        'NOINHERIT', app_role);
    IF current_setting('housing.owner_password') <> '' THEN
        EXECUTE format('ALTER ROLE %I PASSWORD %L', owner_role,
                       current_setting('housing.owner_password'));
    END IF;
    IF current_setting('housing.app_password') <> '' THEN
        EXECUTE format('ALTER ROLE %I PASSWORD %L', app_role,
                       current_setting('housing.app_password'));
    END IF;
END
$roles$;
