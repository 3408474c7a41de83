-- SPDX-License-Identifier: ISC
-- Account deletion (docs/compliance.md): when the grace period of a
-- requested deletion ends, what the purge deleted, and cancellation.
set local role rally_owner;

-- The end of the grace period: the purge starts then (not before).
alter table rally.users add column deletion_purge_after timestamptz;

-- A deletion cancelled during its grace period is marked, never removed;
-- an entry is either completed or cancelled, once (the guard in
-- sql/functions/compliance.sql).
alter table rally.deletion_ledger add column cancelled_at timestamptz,
    add check (completed_at is null or cancelled_at is null);

-- What each purge deleted, per table: the proof `rallyctl compliance
-- report` shows.  Counts only, no personal data, no foreign key: it
-- survives the tenant, like the ledger it belongs to.
create table rally.deletion_purges (
	tenant_id uuid not null,
	ledger_id uuid not null,
	table_name text not null check (table_name ~ '^[a-z_]{1,63}$'),
	rows bigint not null default 0 check (rows >= 0),
	updated_at timestamptz not null default now(),
	primary key (tenant_id, ledger_id, table_name)
);
select rally.secure_table('rally.deletion_purges');
grant select, insert, update on rally.deletion_purges to rally_daemon;
