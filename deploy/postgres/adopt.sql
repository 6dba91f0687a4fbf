-- Hands one service database made before the role split (owned by postgres, as were its
-- tables) to the owner role, so that `migrate` can run as that role. Run as a superuser,
-- connected to that database:
--   psql -X -q -v ON_ERROR_STOP=1 -d housing_intake [-v owner=housing_owner] -f deploy/postgres/adopt.sql
-- then `python -m services.intake migrate` (which grants the application role its privileges).
-- Idempotent; a database the owner role already owns, with all it holds, is left as it is.
\if :{?owner}
\else
\set owner housing_owner
\endif
SET housing.owner_role = :'owner';

DO $adopt$
DECLARE
    target text := current_setting('housing.owner_role');
    statement text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('housing platform database adoption'));
    IF (SELECT datdba FROM pg_database WHERE datname = current_database()) <> target::regrole THEN
        EXECUTE format('ALTER DATABASE %I OWNER TO %I', current_database(), target);
    END IF;
    -- PostgreSQL 15 gives public to pg_database_owner (the new owner, then); older ones to
    -- the superuser that made the cluster.
    IF (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public')
            NOT IN (target, 'pg_database_owner') THEN
        EXECUTE format('ALTER SCHEMA public OWNER TO %I', target);
    END IF;
    FOR statement IN
        SELECT format('ALTER %s %s OWNER TO %I',
                      CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                     WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                      c.oid::regclass, target)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND c.relowner <> target::regrole
          -- Identity and serial sequences go with their table.
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                            AND d.deptype IN ('a', 'i'))
        UNION ALL
        SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, target)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.proowner <> target::regrole
        UNION ALL
        -- Enums and domains; a table's row type and every array type go with their owner.
        SELECT format('ALTER TYPE %s OWNER TO %I', t.oid::regtype, target)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'r', 'm')
          AND t.typowner <> target::regrole
    LOOP
        EXECUTE statement;
    END LOOP;
END
$adopt$;
