-- SPDX-License-Identifier: ISC
-- The compliance engine's disconnect (docs/compliance.md): the key of the
-- ledger's keyed hashes, and what the revocation queue must know to stop
-- push channels at Google before the grant is revoked.
set local role rally_owner;

-- The HMAC key of the deletion ledger's and the audit log's subject and
-- actor hashes (rally.ledger_hash() in sql/functions/ledger.sql creates
-- the first one).  Held by the database itself so that every writer of a
-- ledger entry, the web tier included, goes through a function instead of
-- holding the key; only rally_owner (the functions) reads it.  It travels
-- in the encrypted backups, so a restore can match the ledger against the
-- restored rows.  One row per key id, in the system tenant.
create table rally.ledger_keys (
	tenant_id uuid not null default '00000000-0000-0000-0000-000000000000'
	    check (tenant_id = '00000000-0000-0000-0000-000000000000'),
	key_id text not null check (key_id ~ '^[A-Za-z0-9._-]{1,64}$'),
	key bytea not null check (length(key) = 32),
	created_at timestamptz not null default now(),
	primary key (tenant_id, key_id)
);
select rally.secure_table('rally.ledger_keys');

-- The push channels open when the tokens left the connection: the
-- token-revoke job stops them with the queued copy before it revokes the
-- grant (once it has, Google would refuse the stop).
alter table rally.token_revocations
    add column access_token_expires_at timestamptz,
    add column calendar_channel_id text check (length(calendar_channel_id) <= 256),
    add column calendar_channel_resource_id text
        check (length(calendar_channel_resource_id) <= 256),
    add column gmail_watch boolean not null default false;
