-- The SHA-256 of a push receiver's shared secret, so that the database
-- itself checks what rally.cgi is given (rally.hook_gmail(), in
-- sql/functions/hooks.sql) and a rally_web session that does not know the
-- secret can neither queue work nor learn which addresses are connected.
-- rallyd writes it from google.push_token_file at start-up, on every
-- reconnect and on SIGHUP; rally_web cannot read it.  One row per
-- receiver, in the system tenant.
set local role rally_owner;

create table rally.push_secrets (
	tenant_id uuid not null default '00000000-0000-0000-0000-000000000000'
	    check (tenant_id = '00000000-0000-0000-0000-000000000000'),
	name text not null check (name in ('gmail')),
	sha256 bytea not null check (length(sha256) = 32),
	updated_at timestamptz not null default now(),
	primary key (tenant_id, name)
);
select rally.secure_table('rally.push_secrets');
grant select, insert, update, delete on rally.push_secrets to rally_daemon;

-- The old hook answered how many connections an address has, in any
-- tenant, to any rally_web session.  Its replacement takes the secret and
-- returns nothing.
drop function rally.hook_gmail(text);
