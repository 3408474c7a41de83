-- SPDX-License-Identifier: ISC
-- The guards of the compliance records (migration 0007 has the tables):
-- the audit log is append-only and the deletion ledger may only be
-- completed, for every role, superusers included, and with
-- session_replication_role = replica (the triggers are enabled ALWAYS).
-- The audit log's hash chain is audit.sql.  First defined in migration
-- 0007; these supersede it.
set local role rally_owner;

create or replace function rally.append_only() returns trigger
language plpgsql
as $$
begin
	raise exception '%.% is append-only: % is not allowed', tg_table_schema,
	    tg_table_name, tg_op
	    using errcode = 'insufficient_privilege';
end
$$;

create or replace trigger append_only before update or delete on rally.audit_log
    for each row execute function rally.append_only();
create or replace trigger append_only_truncate before truncate on rally.audit_log
    for each statement execute function rally.append_only();
-- ALWAYS: they fire even with session_replication_role = replica.
alter table rally.audit_log enable always trigger append_only;
alter table rally.audit_log enable always trigger append_only_truncate;

-- The ledger may only be completed or cancelled (an account deletion
-- taken back during its grace period, migration 0025): no deletion, and
-- no change other than setting completed_at or cancelled_at, once.
create or replace function rally.deletion_ledger_guard() returns trigger
language plpgsql
as $$
begin
	if tg_op = 'UPDATE' then
		if old.completed_at is null and old.cancelled_at is null
		    and (new.completed_at is null or new.cancelled_at is null)
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
create or replace trigger keep_entries before update or delete on rally.deletion_ledger
    for each row execute function rally.deletion_ledger_guard();
create or replace trigger keep_entries_truncate before truncate on rally.deletion_ledger
    for each statement execute function rally.deletion_ledger_guard();
alter table rally.deletion_ledger enable always trigger keep_entries;
alter table rally.deletion_ledger enable always trigger keep_entries_truncate;
