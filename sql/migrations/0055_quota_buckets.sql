-- SPDX-License-Identifier: ISC
-- Token buckets shared by every rallyd of the deployment: the Gmail
-- per-project quota (daemon/google-project.c).  One row a bucket; its
-- level as of updated_at, refilled on read by rally.quota_grant
-- (sql/functions/quota.sql).  Not tenant data (the nil tenant, as
-- instances): only the daemon sees it.
set local role rally_owner;

create table rally.quota_buckets (
	tenant_id uuid not null default '00000000-0000-0000-0000-000000000000'
	    check (tenant_id = '00000000-0000-0000-0000-000000000000'),
	name text not null check (name ~ '^[a-z][a-z0-9_]{0,62}$'),
	level float8 not null,
	updated_at timestamptz not null,
	primary key (tenant_id, name)
);
select rally.secure_table('rally.quota_buckets');
grant select, insert, update on rally.quota_buckets to rally_daemon;
