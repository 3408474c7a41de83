-- SPDX-License-Identifier: ISC
-- After a mail disconnect or a revoked grant, the mailpurge job
-- (daemon/job-mailpurge.c) deletes what was synced from that connection's
-- Gmail, one short batch per call, children first (label operations,
-- outbox, messages, threads) so no statement cascades into a large delete
-- and no lock is held long.  The tables are migration 0006's.
set local role rally_owner;

-- Rows deleted by one call of rally.mail_purge_batch, per table.
create or replace function rally.mail_purge_batch_size() returns int
language sql immutable parallel safe
as $$ select 500 $$;

-- Deletes up to one batch; returns the rows deleted (0: nothing left, the
-- mail sync state is reset and the ledger entries completed), or -1 when
-- the database shows mail still on for an active connection: then nothing
-- is touched, whatever the job's payload claimed.
create or replace function rally.mail_purge_batch(p_tenant uuid, p_conn uuid) returns int
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
	lim int := rally.mail_purge_batch_size();
	t text;
	n int;
begin
	if exists (select 1 from rally.google_connections
	    where tenant_id = p_tenant and id = p_conn
	        and mail_enabled and status <> 'revoked') then
		return -1;
	end if;
	foreach t in array array['mail_label_ops', 'mail_outbox', 'mail_messages',
	    'mail_threads'] loop
		execute format('delete from rally.%1$I where (tenant_id, id) in ('
		    'select tenant_id, id from rally.%1$I'
		    ' where tenant_id = $1 and connection_id = $2 limit $3)', t)
		    using p_tenant, p_conn, lim;
		get diagnostics n = row_count;
		if n > 0 then
			return n;
		end if;
	end loop;
	update rally.sync_state set gmail_history_id = null, full_sync_required = true,
	    full_sync_page_token = null, channel_id = null, channel_resource_id = null,
	    channel_token_hash = null, channel_expires_at = null, updated_at = now()
	where tenant_id = p_tenant and connection_id = p_conn and resource = 'mail';
	perform rally.ledger_complete_connection(p_tenant, p_conn, 'mail_disconnect');
	return 0;
end
$$;

-- Mail switched off or access revoked: purge what was synced.
create or replace function rally.google_connections_mail_off() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	if old.mail_enabled and (not new.mail_enabled or new.status = 'revoked') then
		perform rally.job_enqueue(new.tenant_id, 'mailpurge', new.id::text,
		    jsonb_build_object('connection_id', new.id));
	end if;
	return null;
end
$$;
create or replace trigger mail_off after update of mail_enabled, status
    on rally.google_connections
    for each row execute function rally.google_connections_mail_off();

revoke all on function rally.mail_purge_batch_size(), rally.mail_purge_batch(uuid, uuid),
    rally.google_connections_mail_off() from public;
grant execute on function rally.mail_purge_batch_size(), rally.mail_purge_batch(uuid, uuid)
    to rally_daemon;
