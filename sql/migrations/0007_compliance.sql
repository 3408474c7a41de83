-- Compliance (DESIGN section 6): the deletion ledger, data exports, the
-- audit log and the notices sent to users.
set local role rally_owner;

-- Every disconnect and deletion, kept after the data is gone so that a
-- restore can re-apply it.  No personal data and no foreign key: the
-- subject is a keyed hash (HMAC-SHA-256 of e.g. "user:<uuid>" under the
-- ledger key named by hash_key_id), matched against the rows of a restored
-- database.  Rows are never deleted; only completed_at is ever set.
create table rally.deletion_ledger (
	tenant_id uuid not null,
	id uuid not null default gen_random_uuid(),
	kind text not null check (kind in ('calendar_disconnect', 'mail_disconnect',
	    'connection_revoked', 'account_deletion', 'tenant_deletion')),
	subject_hash bytea not null check (length(subject_hash) = 32),
	hash_key_id text not null check (hash_key_id ~ '^[A-Za-z0-9._-]{1,64}$'),
	requested_at timestamptz not null default now(),
	due_at timestamptz not null,
	completed_at timestamptz,
	primary key (tenant_id, id),
	check (due_at >= requested_at),
	check (completed_at is null or completed_at >= requested_at)
);
create index deletion_ledger_open on rally.deletion_ledger (due_at) where completed_at is null;
create index deletion_ledger_subject on rally.deletion_ledger (tenant_id, subject_hash);

-- Access and portability: the archive the daemon builds, kept only here,
-- readable by its user alone, deleted after 7 days.
create table rally.exports (
	tenant_id uuid not null,
	id uuid not null default gen_random_uuid(),
	user_id uuid not null,
	status text not null default 'requested'
	    check (status in ('requested', 'building', 'ready', 'failed')),
	requested_at timestamptz not null default now(),
	started_at timestamptz,
	ready_at timestamptz,
	expires_at timestamptz,
	content_type text not null default 'application/json'
	    check (content_type in ('application/json', 'application/zstd')),
	content bytea,
	size_bytes bigint check (size_bytes >= 0),
	sha256 bytea check (length(sha256) = 32),
	error text check (length(error) <= 2000),
	primary key (tenant_id, id),
	foreign key (tenant_id, user_id) references rally.users on delete cascade,
	check (status <> 'ready' or (content is not null and sha256 is not null
	    and ready_at is not null and expires_at is not null)),
	check (expires_at <= ready_at + interval '7 days')
);
-- One export in progress per user.
create unique index exports_in_progress on rally.exports (tenant_id, user_id)
    where status in ('requested', 'building');
create index exports_expiry on rally.exports (expires_at) where expires_at is not null;

-- Append-only, for every role (including rally_owner and superusers, who
-- would have to drop the triggers first).  No personal data: actors and
-- subjects are keyed hashes as in the deletion ledger, details are ids and
-- counts, never names, addresses, subjects or bodies.  No foreign key: it
-- outlives the tenant.
create table rally.audit_log (
	tenant_id uuid not null,
	id bigint generated always as identity,
	at timestamptz not null default now(),
	actor text not null check (actor in ('user', 'operator', 'daemon', 'google', 'system')),
	actor_hash bytea check (length(actor_hash) = 32),
	action text not null check (action ~ '^[a-z][a-z0-9_.]{0,63}$'),
	subject_hash bytea check (length(subject_hash) = 32),
	hash_key_id text check (hash_key_id ~ '^[A-Za-z0-9._-]{1,64}$'),
	detail jsonb not null default '{}' check (jsonb_typeof(detail) = 'object'),
	primary key (tenant_id, id),
	check ((actor_hash is null and subject_hash is null) or hash_key_id is not null)
);
create index audit_log_at on rally.audit_log (tenant_id, at);

create function rally.append_only() returns trigger
language plpgsql
as $$
begin
	raise exception '%.% is append-only: % is not allowed', tg_table_schema,
	    tg_table_name, tg_op
	    using errcode = 'insufficient_privilege';
end
$$;

create trigger append_only before update or delete on rally.audit_log
    for each row execute function rally.append_only();
create trigger append_only_truncate before truncate on rally.audit_log
    for each statement execute function rally.append_only();
-- ALWAYS: they fire even with session_replication_role = replica.
alter table rally.audit_log enable always trigger append_only;
alter table rally.audit_log enable always trigger append_only_truncate;

-- The ledger may only be completed: no deletion, and no change other than
-- setting completed_at once.
create function rally.deletion_ledger_guard() returns trigger
language plpgsql
as $$
begin
	if tg_op = 'UPDATE' then
		if old.completed_at is null
		    and (old.tenant_id, old.id, old.kind, old.subject_hash, old.hash_key_id,
		        old.requested_at, old.due_at)
		    is not distinct from (new.tenant_id, new.id, new.kind, new.subject_hash,
		        new.hash_key_id, new.requested_at, new.due_at) then
			return new;
		end if;
	end if;
	raise exception 'rally.deletion_ledger entries are kept: % is not allowed', tg_op
	    using errcode = 'insufficient_privilege';
end
$$;
create trigger keep_entries before update or delete on rally.deletion_ledger
    for each row execute function rally.deletion_ledger_guard();
create trigger keep_entries_truncate before truncate on rally.deletion_ledger
    for each statement execute function rally.deletion_ledger_guard();
alter table rally.deletion_ledger enable always trigger keep_entries;
alter table rally.deletion_ledger enable always trigger keep_entries_truncate;

-- Technical and support notices, sent by email by the daemon.  The address
-- is the user's at sending time, so a rectified address is used.
create table rally.notices (
	tenant_id uuid not null,
	id uuid not null default gen_random_uuid(),
	user_id uuid not null,
	kind text not null check (kind in ('technical', 'support', 'security', 'compliance')),
	subject text not null check (length(subject) between 1 and 998),
	body_text text not null check (length(body_text) <= 1048576),
	status text not null default 'queued' check (status in ('queued', 'sending', 'sent', 'failed')),
	message_id text check (length(message_id) <= 998),
	attempts int not null default 0 check (attempts >= 0),
	last_error text check (length(last_error) <= 2000),
	created_at timestamptz not null default now(),
	sent_at timestamptz,
	primary key (tenant_id, id),
	foreign key (tenant_id, user_id) references rally.users on delete cascade,
	check (status <> 'sent' or sent_at is not null)
);
create index notices_queued on rally.notices (created_at) where status in ('queued', 'sending');
create index notices_user on rally.notices (tenant_id, user_id);

select rally.secure_table('rally.deletion_ledger');
select rally.secure_table('rally.exports');
select rally.secure_table('rally.audit_log');
select rally.secure_table('rally.notices');

-- Nobody, the owner included, is granted UPDATE, DELETE or TRUNCATE on the
-- audit log (the triggers stop superusers), nor DELETE on the ledger.
revoke update, delete, truncate on rally.audit_log from rally_owner;
revoke delete, truncate on rally.deletion_ledger from rally_owner;
grant select, insert on rally.audit_log, rally.deletion_ledger to rally_daemon;
grant update (completed_at) on rally.deletion_ledger to rally_daemon;
grant select, insert, update, delete on rally.exports, rally.notices to rally_daemon;

-- rally_web writes the ledger and audit entries of the requests it takes
-- (disconnect, account deletion) in the same transaction, for its tenant;
-- it reads neither.
grant insert (tenant_id, kind, subject_hash, hash_key_id, due_at)
    on rally.deletion_ledger to rally_web;
create policy web_insert on rally.deletion_ledger for insert to rally_web
    with check (tenant_id = rally.current_tenant());
grant insert (tenant_id, actor, actor_hash, action, subject_hash, hash_key_id, detail)
    on rally.audit_log to rally_web;
create policy web_insert on rally.audit_log for insert to rally_web
    with check (tenant_id = rally.current_tenant());

-- A user asks for an export, downloads it, and may delete it early.
grant select on rally.exports to rally_web;
grant insert (tenant_id, id, user_id) on rally.exports to rally_web;
grant delete on rally.exports to rally_web;
create policy web_own on rally.exports to rally_web
    using (tenant_id = rally.current_tenant() and user_id = rally.current_user_id())
    with check (tenant_id = rally.current_tenant() and user_id = rally.current_user_id());

grant select on rally.notices to rally_web;
create policy web_select on rally.notices for select to rally_web
    using (tenant_id = rally.current_tenant() and user_id = rally.current_user_id());
