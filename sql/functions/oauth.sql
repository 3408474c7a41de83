-- SPDX-License-Identifier: ISC
-- Connecting Google from the web front end (docs/cgi.md, "Connecting
-- Google").  rally.cgi holds no client secret and never calls Google: it
-- starts an attempt (web_oauth_begin), hands Google's answer over
-- (web_oauth_callback, which queues an oauth-exchange job) and polls
-- (web_oauth_status).  rallyd's oauth-exchange job (daemon/
-- job-oauth-exchange.c) takes the attempt (oauth_exchange_load), exchanges
-- the code and records how it ended (oauth_exchange_used,
-- oauth_exchange_fail, and oauth_exchange_connected in the transaction
-- that stores the connection, lib/google/connection-store.c).
--
-- The web functions act for rally.current_tenant() / current_user_id()
-- only; an attempt that is not the caller's gets the same answer as one
-- that does not exist.
set local role rally_owner;

-- Outstanding (unfinished) attempts a user may have; the oldest go first.
create or replace function rally.oauth_max_outstanding() returns int
language sql immutable parallel safe
as $$ select 5 $$;

-- Starts an attempt for the caller: p_state_hash is sha256 of the state
-- sent to Google, p_verifier the PKCE verifier, p_redirect_uri the
-- redirect URI of the consent URL (it must be google.redirect_uri of
-- rallyd's configuration).  Returns the attempt's id, or NULL when the
-- caller's account or workspace is not active.  The caller's expired
-- attempts are removed, and the oldest of its unfinished ones beyond
-- oauth_max_outstanding().
create or replace function rally.web_oauth_begin(p_state_hash bytea, p_verifier text,
    p_redirect_uri text, p_calendar boolean, p_mail boolean)
returns uuid
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	v_tenant uuid := rally.current_tenant();
	v_user uuid := rally.current_user_id();
	v_id uuid;
begin
	if not (coalesce(p_calendar, false) or coalesce(p_mail, false)) then
		raise exception 'web_oauth_begin: ask for the calendar, mail or both'
		    using errcode = '22023';
	end if;
	-- The user's row is locked so that concurrent starts keep the cap.
	perform 1 from rally.users u join rally.tenants t on t.tenant_id = u.tenant_id
	where u.tenant_id = v_tenant and u.id = v_user
	    and u.status = 'active' and t.status = 'active'
	for no key update of u;
	if not found then
		return null;
	end if;
	delete from rally.oauth_pending
	where tenant_id = v_tenant and user_id = v_user and expires_at <= now();
	delete from rally.oauth_pending where (tenant_id, id) in (
	    select p.tenant_id, p.id from rally.oauth_pending p
	    where p.tenant_id = v_tenant and p.user_id = v_user and p.outcome is null
	    order by p.created_at desc, p.id
	    offset rally.oauth_max_outstanding() - 1);
	insert into rally.oauth_pending (tenant_id, user_id, state_hash, pkce_verifier,
	    redirect_uri, want_calendar, want_mail)
	values (v_tenant, v_user, p_state_hash, p_verifier, p_redirect_uri,
	    coalesce(p_calendar, false), coalesce(p_mail, false))
	returning id into v_id;
	return v_id;
end
$$;

-- What Google sent back to /oauth/callback: the code, or error= (then
-- p_code is ignored).  Accepted once, for the caller's own unexpired
-- attempt with that state hash: a code queues the oauth-exchange job; an
-- error ends the attempt at once.  Returns the attempt's id, or NULL when
-- the state matches nothing (another user's or workspace's, expired,
-- already called back: the same answer).
create or replace function rally.web_oauth_callback(p_state_hash bytea, p_code text,
    p_error text)
returns uuid
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	p rally.oauth_pending;
	v_error text;
begin
	select o.* into p from rally.oauth_pending o
	join rally.users u on u.tenant_id = o.tenant_id and u.id = o.user_id
	join rally.tenants t on t.tenant_id = o.tenant_id
	where o.tenant_id = rally.current_tenant() and o.user_id = rally.current_user_id()
	    and o.state_hash = p_state_hash and o.callback_at is null and o.outcome is null
	    and o.expires_at > now() and u.status = 'active' and t.status = 'active'
	for update of o;
	if p.id is null then
		return null;
	end if;
	-- A code as Google issues them (oauth_code_ok() in lib/google/oauth.h).
	if p_error is null and (p_code is null or length(p_code) > 2048 or p_code !~ '^[!-~]+$') then
		p_error := 'invalid_code';
	end if;
	if p_error is null then
		update rally.oauth_pending set code = p_code, callback_at = now()
		where tenant_id = p.tenant_id and id = p.id;
		perform rally.job_enqueue(p.tenant_id, 'oauth-exchange', p.id::text,
		    jsonb_build_object('pending_id', p.id), now(), 6);
		return p.id;
	end if;
	-- Kept as a word (letters, digits, '_'), like rallyctl's oauth_reply_parse.
	v_error := regexp_replace(left(p_error, 64), '[^A-Za-z0-9_]', '?', 'g');
	update rally.oauth_pending set error = v_error, callback_at = now(),
	    outcome = 'failed', finished_at = now(),
	    outcome_detail = case when v_error = 'access_denied'
	        then 'You declined access at Google.'
	        else 'Google did not complete the sign-in. Please try again.' end
	where tenant_id = p.tenant_id and id = p.id;
	return p.id;
end
$$;

-- How the caller's attempt is going, for the page that polls: waiting
-- (no answer from Google yet), connecting (rallyd has the code), connected
-- or failed, with a detail in the user's words.  An attempt that expired
-- unfinished has failed.  No row for an attempt that is not the caller's.
create or replace function rally.web_oauth_status(p_pending uuid)
returns table (state text, detail text, connection_id uuid, google_email text)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
	select case when p.outcome is not null then p.outcome
	        when p.expires_at <= now() then 'failed'
	        when p.callback_at is null then 'waiting'
	        else 'connecting' end,
	    case when p.outcome is not null then p.outcome_detail
	        when p.expires_at <= now() then 'The sign-in took too long. Please try again.' end,
	    p.connection_id, c.google_email
	from rally.oauth_pending p
	left join rally.google_connections c on c.tenant_id = p.tenant_id
	    and c.id = p.connection_id and c.user_id = p.user_id
	where p.tenant_id = rally.current_tenant() and p.user_id = rally.current_user_id()
	    and p.id = p_pending
$$;

grant execute on function rally.web_oauth_begin(bytea, text, text, boolean, boolean),
    rally.web_oauth_callback(bytea, text, text), rally.web_oauth_status(uuid)
    to rally_web;

-- Whether tokens of one of the user's connections wait to be revoked:
-- revoking them at Google ends the account's whole grant to Rally's
-- client, a new one included, so a connect waits until they are gone.
create or replace function rally.google_revocation_pending(p_tenant uuid, p_user uuid)
returns boolean
language sql stable
set search_path = pg_catalog, pg_temp
as $$
	select exists (select 1 from rally.token_revocations r
	    join rally.google_connections g
	        on g.tenant_id = r.tenant_id and g.id = r.connection_id
	    where r.tenant_id = p_tenant and g.user_id = p_user)
$$;

-- The oauth-exchange job's attempt: its own tenant's row, with a code and
-- no outcome, of an active user in an active workspace; no row otherwise
-- (the payload is not trusted: it only names the row).  An attempt that
-- expired before rallyd got to it is ended as failed here.
create or replace function rally.oauth_exchange_load(p_tenant uuid, p_pending uuid)
returns table (user_id uuid, code text, pkce_verifier text, redirect_uri text,
    want_calendar boolean, want_mail boolean, revocation_pending boolean)
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
	update rally.oauth_pending o set outcome = 'failed', finished_at = now(), code = null,
	    outcome_detail = 'The sign-in took too long. Please try again.'
	where o.tenant_id = p_tenant and o.id = p_pending and o.outcome is null
	    and o.code is not null and o.expires_at <= now();
	return query
	select o.user_id, o.code, o.pkce_verifier, o.redirect_uri, o.want_calendar,
	    o.want_mail, rally.google_revocation_pending(o.tenant_id, o.user_id)
	from rally.oauth_pending o
	join rally.users u on u.tenant_id = o.tenant_id and u.id = o.user_id
	join rally.tenants t on t.tenant_id = o.tenant_id
	where o.tenant_id = p_tenant and o.id = p_pending and o.code is not null
	    and o.outcome is null and o.expires_at > now()
	    and u.status = 'active' and t.status = 'active';
end
$$;

-- Google has answered the exchange: the code is spent, so it goes.
create or replace function rally.oauth_exchange_used(p_tenant uuid, p_pending uuid)
returns void
language sql
set search_path = pg_catalog, pg_temp
as $$
	update rally.oauth_pending set code = null
	where tenant_id = p_tenant and id = p_pending
$$;

-- The attempt failed; p_detail is in the user's words.  An attempt that
-- already ended keeps its outcome.
create or replace function rally.oauth_exchange_fail(p_tenant uuid, p_pending uuid,
    p_detail text)
returns boolean
language sql
set search_path = pg_catalog, pg_temp
as $$
	update rally.oauth_pending set outcome = 'failed', outcome_detail = left(p_detail, 500),
	    code = null, finished_at = now()
	where tenant_id = p_tenant and id = p_pending and outcome is null
	returning true
$$;

-- The attempt stored connection p_connection (in the transaction that
-- stored it).
create or replace function rally.oauth_exchange_connected(p_tenant uuid, p_pending uuid,
    p_connection uuid, p_detail text)
returns boolean
language sql
set search_path = pg_catalog, pg_temp
as $$
	update rally.oauth_pending set outcome = 'connected', connection_id = p_connection,
	    outcome_detail = left(p_detail, 500), code = null, finished_at = now()
	where tenant_id = p_tenant and id = p_pending and outcome is null
	returning true
$$;

grant execute on function rally.google_revocation_pending(uuid, uuid),
    rally.oauth_exchange_load(uuid, uuid), rally.oauth_exchange_used(uuid, uuid),
    rally.oauth_exchange_fail(uuid, uuid, text),
    rally.oauth_exchange_connected(uuid, uuid, uuid, text)
    to rally_daemon;
