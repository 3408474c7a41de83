-- SPDX-License-Identifier: ISC
-- Tokens leave a connection the moment it is no longer in use.  The first
-- definition was in migration 0004; this supersedes it.  Gmail's watch is
-- recorded as open whenever mail was on: stopping a watch that is not
-- there costs one call and changes nothing.
set local role rally_owner;

-- Whenever tokens leave a connection (its last integration switched off,
-- the connection revoked or deleted, which includes the cascade from an
-- account or tenant deletion), they are queued for revocation in the same
-- transaction and a job wakes the daemon.  Being a trigger, this holds for
-- every caller: the CGI switches an integration off without ever being able
-- to read the tokens.  Runs as rally_owner because rally_web may not write
-- token_revocations.
create or replace function rally.google_connections_release_tokens() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	r rally.google_connections;
	ch record;
begin
	if tg_op = 'DELETE' then
		r := old;
	else
		r := new;
		if (new.calendar_enabled or new.mail_enabled) and new.status <> 'revoked' then
			return new;
		end if;
	end if;
	if r.refresh_token is null and r.access_token is null then
		return case when tg_op = 'DELETE' then old else new end;
	end if;
	-- The push channels still open go with the copy: token-revoke stops
	-- them with it before it revokes the grant (migration 0024).
	select s.channel_id, s.channel_resource_id into ch from rally.sync_state s
	where s.tenant_id = r.tenant_id and s.connection_id = r.id and s.resource = 'calendar'
	    and s.channel_id is not null and s.channel_resource_id is not null;
	insert into rally.token_revocations (tenant_id, connection_id, refresh_token, access_token,
	    access_token_expires_at, calendar_channel_id, calendar_channel_resource_id,
	    gmail_watch)
	    values (r.tenant_id, r.id, r.refresh_token, r.access_token,
	        r.access_token_expires_at, ch.channel_id, ch.channel_resource_id,
	        old.mail_enabled);
	perform rally.job_enqueue(r.tenant_id, 'token-revoke', r.id::text,
	    jsonb_build_object('connection_id', r.id));
	if tg_op = 'DELETE' then
		return old;
	end if;
	new.refresh_token := null;
	new.access_token := null;
	new.access_token_expires_at := null;
	return new;
end
$$;
create or replace trigger release_tokens before update or delete on rally.google_connections
    for each row execute function rally.google_connections_release_tokens();
