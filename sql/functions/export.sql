-- SPDX-License-Identifier: ISC
-- Export, for the rights of access and portability (docs/compliance.md):
-- one JSON archive of everything Rally holds about a user, built in one
-- statement by the export job, kept only in rally.exports (readable by
-- that user alone under row-level security) and deleted 7 days after it
-- is ready.  The format is docs/export.schema.json.
set local role rally_owner;

-- What the user reads on the exports page (cgi/page-account-export.c)
-- about an export that will never be ready; the cause is the job's
-- last_error, for the operator.
create or replace function rally.export_failed_message() returns text
language sql immutable parallel safe
as $$
	select 'Rally could not prepare this export. Ask for a new one; if that fails '
	    'too, contact your administrator.'
$$;

-- Ends an export in progress as failed, so that it no longer holds the
-- user's one place in progress (exports_in_progress): false when it was
-- not in progress.
create or replace function rally.export_fail(p_tenant uuid, p_export uuid) returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	update rally.exports set status = 'failed', error = rally.export_failed_message()
	where tenant_id = p_tenant and id = p_export and status in ('requested', 'building');
	return found;
end
$$;

-- An export job that failed for good (its last attempt, its leases given
-- up, a bad payload) fails its export in the same statement: otherwise the
-- export would stay in progress and every new request would return it.
-- Should that update fail too (the fault that failed the build), the job's
-- end is still recorded: else the job would stay running and be taken over
-- for ever; export_request then fails the export when asked again.
create or replace function rally.exports_job_failed() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	-- Only the export's own job (export_request's dedupe key): a stray job
	-- naming it must not fail an export that its own job may still build.
	if new.dedupe_key = new.payload ->> 'export_id'
	    and new.dedupe_key ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' then
		begin
			perform rally.export_fail(new.tenant_id, new.dedupe_key::uuid);
		exception when others then
			raise warning 'export %: could not mark it failed: %', new.dedupe_key,
			    sqlerrm;
		end;
	end if;
	return null;
end
$$;

create or replace trigger exports_job_failed after update of state on rally.jobs
    for each row when (new.kind = 'export' and new.state = 'failed'
        and old.state is distinct from 'failed')
    execute function rally.exports_job_failed();

-- Queues an export of the user, or returns the one in progress.  An export
-- in progress whose job is no longer pending or running (failed before
-- exports_job_failed existed, pruned, lost) will never be built: it is
-- failed and a new one queued, so that it cannot block the user for good.
create or replace function rally.export_request(p_tenant uuid, p_user uuid, p_actor text)
returns uuid
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	v uuid;
begin
	if not exists (select 1 from rally.users where tenant_id = p_tenant and id = p_user
	    and status = 'active') then
		return null;
	end if;
	select id into v from rally.exports where tenant_id = p_tenant and user_id = p_user
	    and status in ('requested', 'building') for update;
	if found then
		if exists (select 1 from rally.jobs where tenant_id = p_tenant and kind = 'export'
		    and dedupe_key = v::text and state in ('pending', 'running')) then
			return v;
		end if;
		perform rally.export_fail(p_tenant, v);
	end if;
	insert into rally.exports (tenant_id, user_id) values (p_tenant, p_user)
	returning id into v;
	perform rally.audit_about(p_tenant, p_actor, p_user, 'account.export_requested',
	    'user', p_user);
	perform rally.job_enqueue(p_tenant, 'export', v::text,
	    jsonb_build_object('export_id', v), now(), 20);
	return v;
end
$$;

-- The archive of user p_user (docs/export.schema.json).
create or replace function rally.export_document(p_tenant uuid, p_user uuid) returns jsonb
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
	with u as (select * from rally.users where tenant_id = p_tenant and id = p_user),
	h as (select rally.hmac_sha256(k.key, convert_to('user:' || p_user::text, 'UTF8')) as hash
	    from rally.ledger_keys k)
	select jsonb_build_object(
	    'format', 'rally-export/1',
	    'generated_at', now(),
	    'profile', (select jsonb_build_object('id', u.id, 'email', u.email, 'name', u.name,
	        'role', u.role, 'status', u.status, 'analytics_opt_out', u.analytics_opt_out,
	        'time_zone', u.time_zone, 'created_at', u.created_at,
	        'last_login_at', u.last_login_at) from u),
	    'company', (select jsonb_build_object('name', t.name, 'size', t.company_size)
	        from rally.tenants t, u where t.tenant_id = p_tenant and u.role = 'owner'),
	    'billing', (select to_jsonb(b) - 'tenant_id' from rally.billing_profiles b, u
	        where b.tenant_id = p_tenant and u.role = 'owner'),
	    'activities', coalesce((select jsonb_agg(to_jsonb(a) - 'tenant_id' - 'synced_snapshot'
	        order by a.created_at, a.id) from rally.activities a
	        where a.tenant_id = p_tenant and a.owner_id = p_user), '[]'),
	    'mail_threads', coalesce((select jsonb_agg((to_jsonb(t) - 'tenant_id')
	        || jsonb_build_object('messages', coalesce((select jsonb_agg(
	            to_jsonb(m) - 'tenant_id' order by m.internal_date, m.id)
	            from rally.mail_messages m where m.tenant_id = p_tenant
	                and m.thread_id = t.id and m.user_id = p_user), '[]'))
	        order by t.created_at, t.id) from rally.mail_threads t
	        where t.tenant_id = p_tenant and t.user_id = p_user), '[]'),
	    'mail_outbox', coalesce((select jsonb_agg((to_jsonb(o) - 'tenant_id')
	        || jsonb_build_object('attachments', coalesce((select jsonb_agg(jsonb_build_object(
	            'filename', a.filename, 'content_type', a.content_type, 'size', a.size)
	            order by a.position, a.created_at, a.id) from rally.mail_outbox_attachments a
	            where a.tenant_id = o.tenant_id and a.outbox_id = o.id
	                and a.user_id = o.user_id), '[]'))
	        order by o.queued_at)
	        from rally.mail_outbox o where o.tenant_id = p_tenant and o.user_id = p_user), '[]'),
	    'google_connections', coalesce((select jsonb_agg(jsonb_build_object('id', c.id,
	        'google_email', c.google_email, 'scopes', c.scopes,
	        'calendar_enabled', c.calendar_enabled, 'mail_enabled', c.mail_enabled,
	        'status', c.status, 'connected_at', c.connected_at) order by c.connected_at)
	        from rally.google_connections c
	        where c.tenant_id = p_tenant and c.user_id = p_user), '[]'),
	    'usage_events', coalesce((select jsonb_agg(jsonb_build_object('kind', e.kind,
	        'detail', e.detail, 'occurred_at', e.occurred_at) order by e.occurred_at, e.id)
	        from rally.usage_events e where e.tenant_id = p_tenant and e.user_id = p_user), '[]'),
	    'usage_daily', coalesce((select jsonb_agg(jsonb_build_object('day', d.day,
	        'kind', d.kind, 'count', d.count) order by d.day, d.kind)
	        from rally.usage_daily d where d.tenant_id = p_tenant and d.user_id = p_user), '[]'),
	    'notices', coalesce((select jsonb_agg(jsonb_build_object('kind', n.kind,
	        'subject', n.subject,
	        -- A single-use link is not kept (migration 0033).
	        'body', case when n.body_secret then rally.notice_secret_removed()
	            else n.body_text end, 'status', n.status,
	        'created_at', n.created_at, 'sent_at', n.sent_at) order by n.created_at)
	        from rally.notices n where n.tenant_id = p_tenant and n.user_id = p_user), '[]'),
	    'audit', coalesce((select jsonb_agg(jsonb_build_object('at', a.at, 'actor', a.actor,
	        'action', a.action, 'detail', a.detail) order by a.at, a.id)
	        from rally.audit_log a where a.tenant_id = p_tenant
	            and (a.subject_hash in (select hash from h)
	                or a.actor_hash in (select hash from h))), '[]'))
	from u
$$;

-- The export job's work, in one transaction: false when the export is not
-- one to build (another tenant's, ready already, its user gone).
create or replace function rally.export_build(p_tenant uuid, p_export uuid) returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	e rally.exports;
	doc bytea;
begin
	select * into e from rally.exports where tenant_id = p_tenant and id = p_export
	    and status in ('requested', 'building') for update;
	if not found or not exists (select 1 from rally.users where tenant_id = p_tenant
	    and id = e.user_id and status = 'active') then
		return false;
	end if;
	doc := convert_to(rally.export_document(p_tenant, e.user_id)::text, 'UTF8');
	update rally.exports set status = 'ready', started_at = coalesce(started_at, now()),
	    ready_at = now(), expires_at = now() + interval '7 days', content = doc,
	    size_bytes = length(doc), sha256 = sha256(doc), error = null
	where tenant_id = p_tenant and id = p_export;
	perform rally.notice_queue(p_tenant, e.user_id, 'compliance',
	    'Your Rally data export is ready',
	    E'The copy of your data you asked for is ready. Download it from the privacy\n'
	    'page of your Rally settings; it is deleted after 7 days.\n');
	return true;
end
$$;

-- Exports past their 7 days go (the deletion-watch job calls this).
create or replace function rally.exports_expire() returns int
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	n int;
begin
	delete from rally.exports where expires_at < now();
	get diagnostics n = row_count;
	return n;
end
$$;

-- The CGI: an export of the signed-in user's own data.
create or replace function rally.web_export_request() returns uuid
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	if rally.current_tenant() is null or rally.current_user_id() is null then
		return null;
	end if;
	return rally.export_request(rally.current_tenant(), rally.current_user_id(), 'user');
end
$$;

revoke all on function rally.export_failed_message(), rally.export_fail(uuid, uuid),
    rally.exports_job_failed(), rally.export_request(uuid, uuid, text),
    rally.export_document(uuid, uuid), rally.export_build(uuid, uuid),
    rally.exports_expire(), rally.web_export_request() from public;
grant execute on function rally.export_request(uuid, uuid, text),
    rally.export_build(uuid, uuid), rally.exports_expire() to rally_daemon;
grant execute on function rally.web_export_request() to rally_web;
