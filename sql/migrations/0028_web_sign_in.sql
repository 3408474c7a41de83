-- What the web front end's sign-in needs beyond the sessions table of
-- 0003: failed attempts for throttling, kept at most a day, and a sessions
-- column for the idle expiry the functions in sql/functions/web-auth.sql
-- enforce.
set local role rally_owner;

-- One row per failed sign-in (and per sign-up, which is throttled the same
-- way), under two keys: the account address and the client address, each
-- as sha256 of a prefixed lower-case string so that the table holds no
-- address in the clear.  The system tenant's: the attempt belongs to no
-- workspace yet.  Rows older than a day are deleted as new ones come.
create table rally.login_failures (
	tenant_id uuid not null default '00000000-0000-0000-0000-000000000000'
	    check (tenant_id = '00000000-0000-0000-0000-000000000000'),
	id bigint generated always as identity,
	key_hash bytea not null check (length(key_hash) = 32),
	at timestamptz not null default now(),
	primary key (tenant_id, id)
);
create index login_failures_key on rally.login_failures (key_hash, at);
create index login_failures_at on rally.login_failures (at);
select rally.secure_table('rally.login_failures');
grant select, delete on rally.login_failures to rally_daemon;
-- rally_web has no grant: only the functions of web-auth.sql touch it.

-- The signed-in user's own sessions: listed on the account page, and ended
-- there ("sign out everywhere").
create index sessions_last_seen on rally.sessions (last_seen_at);

-- The time zone pages show times in (an IANA name; rally.cgi sets it as
-- the transaction's TimeZone).  Checked against pg_timezone_names by the
-- account page before it is stored.
alter table rally.users add column time_zone text not null default 'UTC'
    check (time_zone ~ '^[A-Za-z0-9_+/-]{1,64}$');
grant select (time_zone), update (time_zone) on rally.users to rally_web;
