-- SPDX-License-Identifier: ISC
-- Notices by email (docs/compliance.md): a row in rally.notices (migration
-- 0007) and a notice job that sends it through the relay and retries
-- while the relay is down.  The address is read when the notice is sent,
-- so a rectified address is the one used.
set local role rally_owner;

create or replace function rally.notice_queue(p_tenant uuid, p_user uuid, p_kind text,
    p_subject text, p_body text) returns uuid
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	v uuid;
begin
	insert into rally.notices (tenant_id, user_id, kind, subject, body_text)
	values (p_tenant, p_user, p_kind, p_subject, p_body)
	returning id into v;
	-- Many attempts: the relay may be down for a day; the backoff is the
	-- engine's (daemon.retry_base .. daemon.retry_max).
	perform rally.job_enqueue(p_tenant, 'notice', v::text,
	    jsonb_build_object('notice_id', v), now(), 1000);
	return v;
end
$$;

revoke all on function rally.notice_queue(uuid, uuid, text, text, text) from public;
grant execute on function rally.notice_queue(uuid, uuid, text, text, text) to rally_daemon;

-- A notice to the user of every sync (calendar or mail of an active
-- connection with the integration on) failing without a success for
-- longer than p_after, once per stretch of failures: failing_notice_at
-- (migration 0026) records it.  Returns how many were queued.  The
-- sync-watch job calls it.
create or replace function rally.sync_failing_notices(p_after interval) returns int
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	r record;
	n int := 0;
begin
	for r in select s.tenant_id, s.connection_id, s.resource, c.user_id, c.google_email
	    from rally.sync_state s
	    join rally.google_connections c on c.tenant_id = s.tenant_id and c.id = s.connection_id
	    where c.status = 'active' and s.consecutive_errors > 0
	        and ((s.resource = 'calendar' and c.calendar_enabled)
	            or (s.resource = 'mail' and c.mail_enabled))
	        and coalesce(s.last_success_at, c.connected_at) < now() - p_after
	        and (s.failing_notice_at is null
	            or s.failing_notice_at < coalesce(s.last_success_at, c.connected_at))
	    order by s.tenant_id, s.connection_id, s.resource
	    limit 1000
	    for update of s skip locked loop
		perform rally.notice_queue(r.tenant_id, r.user_id, 'technical',
		    format('Rally cannot sync your Google %s',
		        case r.resource when 'calendar' then 'Calendar' else 'mail' end),
		    format(E'Rally has not been able to sync the %s of the Google account %s '
		        'for more than %s.\n\nIf you removed Rally''s access at Google, connect '
		        'the account again in Rally''s settings; otherwise we are looking into '
		        'it and nothing needs to be done.\n',
		        case r.resource when 'calendar' then 'calendar' else 'mail' end,
		        r.google_email, p_after));
		update rally.sync_state set failing_notice_at = now()
		where tenant_id = r.tenant_id and connection_id = r.connection_id
		    and resource = r.resource;
		n := n + 1;
	end loop;
	return n;
end
$$;

revoke all on function rally.sync_failing_notices(interval) from public;
grant execute on function rally.sync_failing_notices(interval) to rally_daemon;

-- A notice whose body holds a secret, a single-use link (password reset,
-- invitation; sql/functions/web-accounts.sql): rally_web never reads it
-- (migration 0033) and its body is replaced once it is sent.  p_to, when
-- not NULL, is the recipient instead of the user's address (an invitation
-- is filed under its sender).
create or replace function rally.notice_queue_secret(p_tenant uuid, p_user uuid,
    p_to text, p_kind text, p_subject text, p_body text) returns uuid
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	v uuid;
begin
	insert into rally.notices (tenant_id, user_id, to_address, kind, subject, body_text,
	    body_secret)
	values (p_tenant, p_user, p_to, p_kind, p_subject, p_body, true)
	returning id into v;
	-- Fewer attempts than other notices: the links expire within a week.
	perform rally.job_enqueue(p_tenant, 'notice', v::text,
	    jsonb_build_object('notice_id', v), now(), 200);
	return v;
end
$$;

-- What a secret body becomes once it has been sent or its link used.
create or replace function rally.notice_secret_removed() returns text
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
	select '(This message held a single-use link. Rally removed it once the message '
	    'was sent.)'::text
$$;

revoke all on function rally.notice_queue_secret(uuid, uuid, text, text, text, text),
    rally.notice_secret_removed() from public;
grant execute on function rally.notice_secret_removed() to rally_daemon;

-- A notice without a user (the one that an account deletion is complete,
-- sql/functions/account-deletion.sql) holds the deleted user's address
-- and nothing else does: it is deleted once sent, and, when the relay
-- could not take it within p_after (compliance.purge_lag, the time the
-- purge is allowed to take), here.  The deletion-watch job calls it.
-- The number deleted.
create or replace function rally.farewell_notices_expire(p_after interval) returns int
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	n int;
begin
	delete from rally.notices where user_id is null and created_at < now() - p_after;
	get diagnostics n = row_count;
	return n;
end
$$;

revoke all on function rally.farewell_notices_expire(interval) from public;
grant execute on function rally.farewell_notices_expire(interval) to rally_daemon;
