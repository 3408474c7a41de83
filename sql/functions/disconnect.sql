-- SPDX-License-Identifier: ISC
-- Disconnecting an integration, the one path for every caller
-- (docs/compliance.md): rallyctl user disconnect (lib/compliance.c), the
-- CGI (rally.web_disconnect) and a grant revoked at Google (rallyd's
-- google-fetch.c, actor 'google').  In the caller's transaction: the
-- integrations are switched off (the release_tokens trigger of tokens.sql
-- moves the tokens to the revocation queue when none is left, the
-- calendar_off and mail_off triggers queue the purges), and one ledger
-- entry and one audit entry are written per integration switched off.
set local role rally_owner;

-- How long a disconnect's purge may take before the ledger entry is
-- overdue.  The purges run within seconds; an hour leaves room for retries.
create or replace function rally.disconnect_purge_due() returns interval
language sql immutable parallel safe
as $$ select interval '1 hour' $$;

-- p_actor: 'user', 'operator' or 'google'; p_actor_id the user acting (for
-- 'user'), hashed into the audit entry.  p_revoked_error: set when Google
-- revoked the grant (the connection becomes 'revoked' with that error).
-- No row when the connection does not exist; otherwise what was switched
-- off now (an integration already off is not switched off again, and gets
-- no second ledger entry) and whether the tokens left the connection.
create or replace function rally.compliance_disconnect(p_tenant uuid, p_connection uuid,
    p_calendar boolean, p_mail boolean, p_actor text, p_actor_id uuid default null,
    p_revoked_error text default null)
returns table (calendar_off boolean, mail_off boolean, tokens_released boolean)
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	c rally.google_connections;
	had_tokens boolean;
	revoked boolean := p_revoked_error is not null;
begin
	if p_actor is null or p_actor not in ('user', 'operator', 'google') then
		raise exception 'compliance_disconnect: actor must be user, operator or google'
		    using errcode = '22023';
	end if;
	select * into c from rally.google_connections
	where tenant_id = p_tenant and id = p_connection for update;
	if not found then
		return;
	end if;
	had_tokens := c.refresh_token is not null or c.access_token is not null;
	calendar_off := c.calendar_enabled and (p_calendar or revoked);
	mail_off := c.mail_enabled and (p_mail or revoked);
	update rally.google_connections set
	    calendar_enabled = calendar_enabled and not calendar_off,
	    mail_enabled = mail_enabled and not mail_off,
	    status = case when revoked then 'revoked' else status end,
	    last_error = case when revoked then left(p_revoked_error, 2000) else last_error end,
	    last_error_kind = case when revoked then 'revoked' else last_error_kind end,
	    last_error_at = case when revoked then now() else last_error_at end,
	    updated_at = now()
	where tenant_id = p_tenant and id = p_connection
	returning * into c;
	tokens_released := had_tokens and c.refresh_token is null and c.access_token is null;
	if calendar_off then
		perform rally.ledger_add(p_tenant, 'calendar_disconnect', 'connection',
		    p_connection, now() + rally.disconnect_purge_due());
	end if;
	if mail_off then
		perform rally.ledger_add(p_tenant, 'mail_disconnect', 'connection',
		    p_connection, now() + rally.disconnect_purge_due());
	end if;
	if calendar_off or mail_off or revoked then
		perform rally.audit_about(p_tenant, p_actor, p_actor_id,
		    case when revoked then 'google.access_revoked' else 'connection.disconnected' end,
		    'connection', p_connection,
		    jsonb_build_object('calendar', calendar_off, 'mail', mail_off,
		        'tokens_released', tokens_released));
	end if;
	if revoked then
		perform rally.notice_queue(p_tenant, c.user_id, 'security',
		    'Rally no longer has access to your Google account',
		    format(E'Access to the Google account %s was revoked at Google.\n\n'
		        'Rally has stopped syncing it and deleted its access tokens; the '
		        'calendar events and emails it had synced are being deleted.\n\n'
		        'To sync again, connect the account in Rally''s settings.\n',
		        c.google_email));
	end if;
	return next;
end
$$;

-- A purge finished: the open ledger entries of that kind about the
-- connection are completed (under whichever key hashed them).
create or replace function rally.ledger_complete_connection(p_tenant uuid,
    p_connection uuid, p_kind text) returns int
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	n int;
begin
	update rally.deletion_ledger l set completed_at = now()
	where l.tenant_id = p_tenant and l.kind = p_kind and l.completed_at is null
	    and l.subject_hash in (select rally.hmac_sha256(k.key,
	        convert_to('connection:' || p_connection::text, 'UTF8')) from rally.ledger_keys k);
	get diagnostics n = row_count;
	return n;
end
$$;

-- The CGI's disconnect: only the caller's own connection; false for
-- anything else, the same answer as for a connection that does not exist.
create or replace function rally.web_disconnect(p_connection uuid, p_calendar boolean,
    p_mail boolean) returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	t uuid := rally.current_tenant();
	u uuid := rally.current_user_id();
begin
	if t is null or u is null or not exists (select 1 from rally.google_connections
	    where tenant_id = t and id = p_connection and user_id = u) then
		return false;
	end if;
	perform rally.compliance_disconnect(t, p_connection, coalesce(p_calendar, false),
	    coalesce(p_mail, false), 'user', u);
	return true;
end
$$;

revoke all on function rally.disconnect_purge_due(),
    rally.compliance_disconnect(uuid, uuid, boolean, boolean, text, uuid, text),
    rally.ledger_complete_connection(uuid, uuid, text),
    rally.web_disconnect(uuid, boolean, boolean) from public;
grant execute on function rally.disconnect_purge_due(),
    rally.compliance_disconnect(uuid, uuid, boolean, boolean, text, uuid, text),
    rally.ledger_complete_connection(uuid, uuid, text) to rally_daemon;
grant execute on function rally.web_disconnect(uuid, boolean, boolean) to rally_web;
