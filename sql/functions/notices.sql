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
