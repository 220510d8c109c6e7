-- A bank's database and the role its participant connects as: least privilege.
--
-- Run by psql as a superuser, with the names and password in the environment (psql's \getenv,
-- so the password is never on a command line):
--   CONCORD_DB_NAME      the database, e.g. concord_bank_a
--   CONCORD_DB_USER      the participant's role, e.g. concord_bank_a
--   CONCORD_DB_PASSWORD  its password
-- The local cluster runs it on every start (scripts/cluster/postgres.ts); docker-compose mounts it
-- into the postgres image's /docker-entrypoint-initdb.d/, which runs it at first initialisation.
-- It can run again safely: it creates what is missing and resets the role's rights and password.
--
-- The role is not a superuser and can create no role or database. It owns its database, so it can
-- create its own tables at start-up (the participant's migrations) and prepare, commit and roll
-- back its own prepared transactions (COMMIT PREPARED needs the role that prepared). Nobody else
-- connects to its database, and it connects to no other.
\set ON_ERROR_STOP on
\getenv db CONCORD_DB_NAME
\getenv role CONCORD_DB_USER
\getenv password CONCORD_DB_PASSWORD

SELECT :'db' ~ '^[a-z_][a-z0-9_]{0,62}$' AND :'role' ~ '^[a-z_][a-z0-9_]{0,62}$' AND length(:'password') >= 32 AS inputs_ok \gset
\if :inputs_ok
\else
  DO $$ BEGIN RAISE EXCEPTION 'CONCORD_DB_NAME and CONCORD_DB_USER must be lowercase SQL names, and CONCORD_DB_PASSWORD at least 32 characters'; END $$;
\endif

SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') AS create_role \gset
\if :create_role
  CREATE ROLE :"role" LOGIN;
\endif
-- Kept out of the server log whatever log_statement says.
SET log_statement = 'none';
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'password';
RESET log_statement;

SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') AS create_db \gset
\if :create_db
  CREATE DATABASE :"db" OWNER :"role";
\endif
ALTER DATABASE :"db" OWNER TO :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"role";
-- The maintenance databases are for superusers: PUBLIC can connect to them by default.
REVOKE CONNECT ON DATABASE postgres FROM PUBLIC;
REVOKE CONNECT ON DATABASE template1 FROM PUBLIC;
