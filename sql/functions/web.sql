-- SPDX-License-Identifier: ISC
-- What the web tier may ask rallyd to do.  rally_web cannot insert jobs:
-- each request is one of these security definer functions, which checks
-- the caller's tenant and user (rally.current_tenant(), current_user_id())
-- against the rows the request is about and builds the payload from those
-- rows, never from the caller's words.  More arrive with the features
-- that need them (export, account deletion: the compliance issue); a
-- disconnect is an UPDATE of the caller's own connection, which the
-- triggers of tokens.sql and calendar-outbound.sql turn into the jobs.
set local role rally_owner;

-- "Sync now" for one of the caller's own active connections: p_resource
-- 'calendar' queues a calsync, 'mail' a mailsync.  Returns whether a sync
-- was queued (false for a connection that is not the caller's, not active,
-- or without that integration: the same answer, so nothing is learnt
-- about other people's connections).
create or replace function rally.web_request_sync(p_connection uuid, p_resource text)
returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	c rally.google_connections;
begin
	if p_resource is null or p_resource not in ('calendar', 'mail') then
		raise exception 'web_request_sync: resource must be calendar or mail'
		    using errcode = '22023';
	end if;
	select * into c from rally.google_connections
	where tenant_id = rally.current_tenant() and user_id = rally.current_user_id()
	    and id = p_connection and status = 'active'
	    and case p_resource when 'calendar' then calendar_enabled else mail_enabled end;
	if c.id is null then
		return false;
	end if;
	perform rally.job_enqueue(c.tenant_id,
	    case p_resource when 'calendar' then 'calsync' else 'mailsync' end, c.id::text,
	    jsonb_build_object('connection_id', c.id, 'reason', 'user'));
	return true;
end
$$;

grant execute on function rally.web_request_sync(uuid, text) to rally_web;
