-- SPDX-License-Identifier: ISC
-- Google push receivers (rally.cgi /hooks/google/...): the request names a
-- channel or a mailbox, not a tenant, so these run as rally_owner, check
-- the request's own secret against the hash stored for it, and queue
-- through rally.job_enqueue.  rally_web learns only what the CGI must
-- answer Google, never anything about a tenant it is not in.
set local role rally_owner;

-- Calendar: the channel id and token from the X-Goog-Channel-* headers;
-- the token must be the one stored (hashed) when the watch was created.
-- Google stops retrying an unknown channel on 404, hence the boolean: the
-- caller proves the channel's own secret, so the answer reveals nothing
-- it did not know.
create or replace function rally.hook_calendar(p_channel_id text, p_token text)
returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	s record;
begin
	select st.tenant_id, st.connection_id into s
	from rally.sync_state st
	join rally.google_connections c
	    on c.tenant_id = st.tenant_id and c.id = st.connection_id
	where st.channel_id = p_channel_id and st.resource = 'calendar'
	    and st.channel_token_hash = sha256(convert_to(p_token, 'UTF8'))
	    and c.calendar_enabled and c.status = 'active'
	limit 1;
	if not found then
		return false;
	end if;
	perform rally.job_enqueue(s.tenant_id, 'calsync', s.connection_id::text,
	    jsonb_build_object('connection_id', s.connection_id, 'reason', 'push'));
	return true;
end
$$;

-- Gmail: the mailbox address of a Pub/Sub push, and the secret the push
-- came with (the last segment of /hooks/google/gmail/<secret>).  Nothing
-- happens unless the secret's SHA-256 is the one rallyd stored in
-- rally.push_secrets; and whatever happens, the caller learns nothing:
-- the result is void and no error depends on the address, so a web
-- session cannot probe which tenants have a mailbox connected.
-- An authentic push queues a mailsync of each active mail connection of
-- the mailbox (one Google account may be connected in several tenants);
-- the sync's dedupe key folds a burst of pushes into one pending job.
create or replace function rally.hook_gmail(p_email text, p_secret text)
returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	perform 1 from rally.push_secrets s
	where s.tenant_id = '00000000-0000-0000-0000-000000000000'
	    and s.name = 'gmail'
	    and s.sha256 = sha256(convert_to(coalesce(p_secret, ''), 'UTF8'));
	if not found or p_email is null then
		return;
	end if;
	perform rally.job_enqueue(c.tenant_id, 'mailsync', c.id::text,
	    jsonb_build_object('connection_id', c.id, 'reason', 'push'))
	from rally.google_connections c
	where lower(c.google_email) = lower(p_email) and c.status = 'active'
	    and c.mail_enabled;
end
$$;

revoke all on function rally.hook_calendar(text, text), rally.hook_gmail(text, text)
    from public;
grant execute on function rally.hook_calendar(text, text), rally.hook_gmail(text, text)
    to rally_web;
