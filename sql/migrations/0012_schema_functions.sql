-- Functions and triggers live in sql/functions/<area>.sql, re-applied as
-- CREATE OR REPLACE by every `rallyctl migrate` after the migrations (a
-- migration is never edited, so code kept in one could only be fixed by
-- copying it).  This row records the digest of what was applied last, so
-- `rallyctl status` can say whether the database runs the installed code.
-- Like schema_migrations, it is the runner's bookkeeping, not tenant data.
set local role rally_owner;

create table rally.schema_functions (
	id int primary key check (id = 1),
	digest text not null check (digest ~ '^[0-9a-f]{64}$'),
	files text[] not null,
	applied_at timestamptz not null default now()
);
grant select on rally.schema_functions to rally_daemon;
