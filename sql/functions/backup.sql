-- SPDX-License-Identifier: ISC
-- Backups (lib/backup-run.c, lib/backup-restore.c, daemon/job-backup.c):
-- the daily job, and the re-application of the deletion ledger to a
-- restored database.
set local role rally_owner;

-- Queues the next daily backup, p_minute minutes after midnight UTC: today's
-- if that time is still to come, else tomorrow's.  One job per day whatever
-- the number of instances calling (dedupe key and existence check).  Queued
-- a day ahead, it is in the database when its time comes, so an instance
-- that starts later, even after a day without any, runs it: no catch-up
-- logic, and a new installation makes its first at the next backup.time
-- (rallyctl backup now makes one at once).
create or replace function rally.backup_queue_daily(p_minute int) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
	v_day date := (now() at time zone 'UTC')::date;
	v_at timestamptz;
	v_key text;
begin
	if p_minute is null or p_minute not between 0 and 1439 then
		raise exception 'backup_queue_daily: minute % is not in 0..1439', p_minute
		    using errcode = '22023';
	end if;
	v_at := (v_day::timestamp + make_interval(mins => p_minute)) at time zone 'UTC';
	if v_at <= now() then
		v_day := v_day + 1;
		v_at := v_at + interval '1 day';
	end if;
	v_key := 'daily:' || to_char(v_day, 'YYYY-MM-DD');
	if not exists (select 1 from rally.jobs where tenant_id = '00000000-0000-0000-0000-000000000000'
	    and kind = 'backup' and dedupe_key = v_key) then
		perform rally.job_enqueue('00000000-0000-0000-0000-000000000000', 'backup',
		    v_key, '{}', v_at);
	end if;
end
$$;

-- Queues the restore check of the newest complete backup when none was
-- checked, and no check was queued, within p_interval_sec seconds (0:
-- never): a check that keeps failing to run is not queued again every tick.
create or replace function rally.backup_queue_restore_check(p_interval_sec int) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
	v_since timestamptz;
begin
	if p_interval_sec is null or p_interval_sec <= 0 then
		return;
	end if;
	v_since := now() - make_interval(secs => p_interval_sec);
	if exists (select 1 from rally.backups where status = 'complete')
	    and not exists (select 1 from rally.backups where restore_checked_at > v_since)
	    and not exists (select 1 from rally.jobs
	        where tenant_id = '00000000-0000-0000-0000-000000000000'
	            and kind = 'backup-check' and created_at > v_since) then
		perform rally.job_enqueue('00000000-0000-0000-0000-000000000000',
		    'backup-check', 'restore-check', '{}');
	end if;
end
$$;

-- Runs in a restored database, in the restore's own transaction, after the
-- live database's ledger entries were added to it: deletes again whatever
-- an entry names, matched through rally.ledger_matches() (the keyed hash
-- of "<kind>:<uuid>"; sql/functions/ledger.sql).  Set-based: one statement
-- per kind of entry over all entries.  Returns the number of entries.
create or replace function rally.backup_reapply_ledger() returns bigint
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
	n bigint;
	c record;
	v_key text;
begin
	select count(*) into n from rally.deletion_ledger;
	if n = 0 then
		return 0;
	end if;
	if to_regprocedure('rally.ledger_matches(bytea,text,text,uuid)') is null
	    or to_regclass('rally.ledger_keys') is null then
		raise exception 'backup_reapply_ledger: % ledger entries but no rally.ledger_matches() to match them', n
		    using errcode = '55000', hint = 'restore with a Rally whose migrations define it';
	end if;
	-- An entry whose key is in neither database could match nothing: the
	-- deletion it records would silently come back.
	select l.hash_key_id into v_key from rally.deletion_ledger l
	where not exists (select 1 from rally.ledger_keys k where k.key_id = l.hash_key_id)
	limit 1;
	if found then
		raise exception 'backup_reapply_ledger: ledger entries are hashed under key "%", which neither the live database nor the backup holds', v_key
		    using errcode = '55000';
	end if;
	perform pg_catalog.set_config('rally.origin', 'google', true);
	delete from rally.tenants t using rally.deletion_ledger l
	where l.kind = 'tenant_deletion' and l.tenant_id = t.tenant_id
	    and rally.ledger_matches(l.subject_hash, l.hash_key_id, 'tenant', t.tenant_id);
	-- A deletion cancelled in its grace period deletes nothing: the user
	-- kept the account.  One still in its grace period when the restore
	-- runs is carried out now (its user can no longer cancel it: a
	-- restore errs on the side of the deletion promise).
	delete from rally.users u using rally.deletion_ledger l
	where l.kind = 'account_deletion' and l.tenant_id = u.tenant_id
	    and l.cancelled_at is null
	    and rally.ledger_matches(l.subject_hash, l.hash_key_id, 'user', u.id);
	for c in
		select g.tenant_id, g.id, l.kind from rally.google_connections g
		join rally.deletion_ledger l on l.tenant_id = g.tenant_id
		    and l.kind in ('calendar_disconnect', 'mail_disconnect', 'connection_revoked')
		    and rally.ledger_matches(l.subject_hash, l.hash_key_id, 'connection', g.id)
	loop
		perform rally.backup_reapply_disconnect(c.tenant_id, c.id, c.kind);
	end loop;
	return n;
end
$$;

-- One disconnect again: the integration off (the token trigger queues the
-- revocation of whatever tokens the backup held), its synced data gone.
create or replace function rally.backup_reapply_disconnect(p_tenant uuid, p_conn uuid,
    p_kind text) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
	if p_kind in ('calendar_disconnect', 'connection_revoked') then
		update rally.google_connections set calendar_enabled = false, updated_at = now()
		where tenant_id = p_tenant and id = p_conn and calendar_enabled;
		while rally.cal_purge_batch(p_tenant, p_conn) > 0 loop
		end loop;
	end if;
	if p_kind in ('mail_disconnect', 'connection_revoked') then
		update rally.google_connections set mail_enabled = false, updated_at = now()
		where tenant_id = p_tenant and id = p_conn and mail_enabled;
		delete from rally.mail_label_ops where tenant_id = p_tenant and connection_id = p_conn;
		delete from rally.mail_outbox where tenant_id = p_tenant and connection_id = p_conn;
		delete from rally.mail_messages where tenant_id = p_tenant and connection_id = p_conn;
		delete from rally.mail_threads where tenant_id = p_tenant and connection_id = p_conn;
	end if;
	if p_kind = 'connection_revoked' then
		update rally.google_connections set status = 'revoked', updated_at = now()
		where tenant_id = p_tenant and id = p_conn and status <> 'revoked';
	end if;
end
$$;

revoke all on function rally.backup_queue_daily(int), rally.backup_queue_restore_check(int),
    rally.backup_reapply_ledger(), rally.backup_reapply_disconnect(uuid, uuid, text) from public;
grant execute on function rally.backup_queue_daily(int), rally.backup_queue_restore_check(int)
    to rally_daemon;
