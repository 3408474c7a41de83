-- Google connections, their sync state, the OAuth hand-over from the CGI
-- to the daemon, and sealed tokens queued for revocation.
set local role rally_owner;

create table rally.google_connections (
	tenant_id uuid not null,
	id uuid not null default gen_random_uuid(),
	user_id uuid not null,
	google_email text not null check (length(google_email) between 3 and 320),
	google_subject text not null check (length(google_subject) between 1 and 255),
	scopes text[] not null default '{}',
	calendar_enabled boolean not null default false,
	mail_enabled boolean not null default false,
	status text not null default 'active' check (status in ('active', 'revoked', 'error')),
	last_error text check (length(last_error) <= 2000),
	last_error_kind text check (last_error_kind ~ '^[a-z][a-z0-9_]{0,63}$'),
	last_error_at timestamptz,
	-- Sealed (lib/seal): the associated data binds tenant_id, id and the
	-- column name, so these bytes open only here (or, for revocation, with
	-- this row's identity as token_revocations records it).
	refresh_token bytea,
	access_token bytea,
	access_token_expires_at timestamptz,
	connected_at timestamptz not null default now(),
	updated_at timestamptz not null default now(),
	primary key (tenant_id, id),
	-- One connection per user and Google account.
	unique (tenant_id, user_id, google_subject),
	-- For the foreign keys that tie synced data to the user who owns the
	-- connection it came through.
	unique (tenant_id, id, user_id),
	foreign key (tenant_id, user_id) references rally.users on delete cascade,
	-- Tokens live only on a connection that is in use (DESIGN section 6); the
	-- trigger below moves them out before these are checked.
	check (calendar_enabled or mail_enabled or (refresh_token is null and access_token is null)),
	check (status <> 'revoked' or (refresh_token is null and access_token is null))
);
create index google_connections_user on rally.google_connections (tenant_id, user_id);
create index google_connections_mail on rally.google_connections (lower(google_email))
    where mail_enabled;

create table rally.sync_state (
	tenant_id uuid not null,
	connection_id uuid not null,
	resource text not null check (resource in ('calendar', 'mail')),
	calendar_sync_token text check (length(calendar_sync_token) <= 4096),
	-- Gmail history ids are unsigned 64-bit.
	gmail_history_id numeric(20, 0) check (gmail_history_id >= 0),
	full_sync_required boolean not null default true,
	-- Where an interrupted full sync resumes.
	full_sync_page_token text check (length(full_sync_page_token) <= 4096),
	full_sync_started_at timestamptz,
	last_full_sync_at timestamptz,
	last_sync_at timestamptz,
	last_success_at timestamptz,
	next_poll_at timestamptz,
	-- Push: a Calendar watch channel, or the Gmail watch (expiry only).
	channel_id text check (length(channel_id) <= 256),
	channel_resource_id text check (length(channel_resource_id) <= 256),
	channel_token_hash bytea check (length(channel_token_hash) = 32),
	channel_expires_at timestamptz,
	lag_seconds int check (lag_seconds >= 0),
	backlog int check (backlog >= 0),
	item_count bigint check (item_count >= 0),
	-- Items not stored, counted by reason ({"too_large": 3}): never dropped silently.
	skipped jsonb not null default '{}' check (jsonb_typeof(skipped) = 'object'),
	last_error text check (length(last_error) <= 2000),
	last_error_kind text check (last_error_kind ~ '^[a-z][a-z0-9_]{0,63}$'),
	last_error_at timestamptz,
	consecutive_errors int not null default 0 check (consecutive_errors >= 0),
	updated_at timestamptz not null default now(),
	primary key (tenant_id, connection_id, resource),
	foreign key (tenant_id, connection_id) references rally.google_connections on delete cascade,
	check (resource = 'calendar' or calendar_sync_token is null),
	check (resource = 'mail' or gmail_history_id is null)
);
create index sync_state_channel on rally.sync_state (channel_id) where channel_id is not null;
create index sync_state_poll on rally.sync_state (next_poll_at);

-- The CGI's half of the OAuth flow: it stores the state (hashed) and the
-- PKCE verifier when the user starts, and the code when Google redirects
-- back; the daemon exchanges the code and deletes the row.
create table rally.oauth_pending (
	tenant_id uuid not null,
	id uuid not null default gen_random_uuid(),
	user_id uuid not null,
	state_hash bytea not null check (length(state_hash) = 32),
	pkce_verifier text not null check (pkce_verifier ~ '^[A-Za-z0-9._~-]{43,128}$'),
	redirect_uri text not null check (length(redirect_uri) between 1 and 2048),
	want_calendar boolean not null default false,
	want_mail boolean not null default false,
	code text check (length(code) between 1 and 2048),
	error text check (length(error) <= 256),
	callback_at timestamptz,
	created_at timestamptz not null default now(),
	expires_at timestamptz not null default now() + interval '15 minutes',
	primary key (tenant_id, id),
	unique (tenant_id, state_hash),
	foreign key (tenant_id, user_id) references rally.users on delete cascade,
	check (want_calendar or want_mail),
	check (expires_at > created_at)
);
create index oauth_pending_user on rally.oauth_pending (tenant_id, user_id);
create index oauth_pending_expiry on rally.oauth_pending (expires_at);

-- The last copy of a disconnected connection's tokens, still sealed, until
-- the daemon has revoked the grant at Google; deleted whatever Google
-- answers.  No foreign key: the entry must outlive the connection, the
-- user and the tenant it came from.  The daemon opens the bytes with the
-- connection's identity (tenant_id, connection_id and the column name).
create table rally.token_revocations (
	tenant_id uuid not null,
	id bigint generated always as identity,
	connection_id uuid not null,
	refresh_token bytea,
	access_token bytea,
	queued_at timestamptz not null default now(),
	attempts int not null default 0 check (attempts >= 0),
	last_attempt_at timestamptz,
	last_error text check (length(last_error) <= 2000),
	primary key (tenant_id, id),
	check (refresh_token is not null or access_token is not null)
);
create index token_revocations_queued on rally.token_revocations (queued_at);

select rally.secure_table('rally.google_connections');
select rally.secure_table('rally.sync_state');
select rally.secure_table('rally.oauth_pending');
select rally.secure_table('rally.token_revocations');

grant select, insert, update, delete on rally.google_connections, rally.sync_state,
    rally.oauth_pending, rally.token_revocations to rally_daemon;

-- Whenever tokens leave a connection (its last integration switched off,
-- the connection revoked or deleted, which includes the cascade from an
-- account or tenant deletion), they are queued for revocation in the same
-- transaction and a job wakes the daemon.  Being a trigger, this holds for
-- every caller: the CGI switches an integration off without ever being able
-- to read the tokens.  Runs as rally_owner because rally_web may not write
-- token_revocations.
create function rally.google_connections_release_tokens() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	r rally.google_connections;
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
	insert into rally.token_revocations (tenant_id, connection_id, refresh_token, access_token)
	    values (r.tenant_id, r.id, r.refresh_token, r.access_token);
	insert into rally.jobs (tenant_id, kind, dedupe_key, payload)
	    values (r.tenant_id, 'token_revoke', r.id::text,
	        jsonb_build_object('connection_id', r.id))
	    on conflict (tenant_id, kind, dedupe_key)
	        where state = 'pending' and dedupe_key is not null do nothing;
	if tg_op = 'DELETE' then
		return old;
	end if;
	new.refresh_token := null;
	new.access_token := null;
	new.access_token_expires_at := null;
	return new;
end
$$;
create trigger release_tokens before update or delete on rally.google_connections
    for each row execute function rally.google_connections_release_tokens();

-- rally_web: a user sees and switches their own connections, never the
-- tokens.  Connections are created by the daemon after the code exchange.
grant select (tenant_id, id, user_id, google_email, google_subject, scopes,
    calendar_enabled, mail_enabled, status, last_error, last_error_kind,
    last_error_at, access_token_expires_at, connected_at, updated_at)
    on rally.google_connections to rally_web;
grant update (calendar_enabled, mail_enabled, updated_at)
    on rally.google_connections to rally_web;
create policy web_own on rally.google_connections for select to rally_web
    using (tenant_id = rally.current_tenant() and user_id = rally.current_user_id());
create policy web_update on rally.google_connections for update to rally_web
    using (tenant_id = rally.current_tenant() and user_id = rally.current_user_id())
    with check (tenant_id = rally.current_tenant() and user_id = rally.current_user_id());

-- Sync status (lag, backlog, last error) of the user's own connections;
-- sync tokens and channel secrets stay with the daemon.
grant select (tenant_id, connection_id, resource, full_sync_required,
    last_full_sync_at, last_sync_at, last_success_at, channel_expires_at,
    lag_seconds, backlog, item_count, skipped, last_error, last_error_kind,
    last_error_at, updated_at)
    on rally.sync_state to rally_web;
create policy web_own on rally.sync_state for select to rally_web
    using (tenant_id = rally.current_tenant() and exists (
        select 1 from rally.google_connections c
        where c.tenant_id = sync_state.tenant_id and c.id = sync_state.connection_id
            and c.user_id = rally.current_user_id()));

-- The user's own OAuth attempts: the CGI writes the verifier and the code
-- but does not read them back.
grant select (tenant_id, id, user_id, state_hash, redirect_uri, want_calendar,
    want_mail, error, callback_at, created_at, expires_at)
    on rally.oauth_pending to rally_web;
grant insert (tenant_id, id, user_id, state_hash, pkce_verifier, redirect_uri,
    want_calendar, want_mail, expires_at)
    on rally.oauth_pending to rally_web;
grant update (code, error, callback_at) on rally.oauth_pending to rally_web;
grant delete on rally.oauth_pending to rally_web;
create policy web_own on rally.oauth_pending to rally_web
    using (tenant_id = rally.current_tenant() and user_id = rally.current_user_id())
    with check (tenant_id = rally.current_tenant() and user_id = rally.current_user_id());

-- Google push receivers (rally.cgi /hooks/google/...): the request names a
-- channel or a mailbox, not a tenant, so these look it up as rally_owner
-- and queue a sync job; the CGI learns only whether it was accepted.

-- Calendar: the channel id and token from the X-Goog-Channel-* headers;
-- the token must be the one stored (hashed) when the watch was created.
create function rally.hook_calendar(p_channel_id text, p_token text) returns boolean
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
	insert into rally.jobs (tenant_id, kind, dedupe_key, payload)
	    values (s.tenant_id, 'calsync', s.connection_id::text,
	        jsonb_build_object('connection_id', s.connection_id, 'reason', 'push'))
	    on conflict (tenant_id, kind, dedupe_key)
	        where state = 'pending' and dedupe_key is not null do nothing;
	return true;
end
$$;

-- Gmail: the mailbox address from a Pub/Sub push the CGI has already
-- authenticated; every active mail connection of that address is woken.
-- Returns how many jobs it queued (one already pending is not counted).
create function rally.hook_gmail(p_email text) returns integer
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	n integer;
begin
	insert into rally.jobs (tenant_id, kind, dedupe_key, payload)
	    select c.tenant_id, 'mailsync', c.id::text,
	        jsonb_build_object('connection_id', c.id, 'reason', 'push')
	    from rally.google_connections c
	    where lower(c.google_email) = lower(p_email)
	        and c.mail_enabled and c.status = 'active'
	    on conflict (tenant_id, kind, dedupe_key)
	        where state = 'pending' and dedupe_key is not null do nothing;
	get diagnostics n = row_count;
	return n;
end
$$;

grant execute on function rally.hook_calendar(text, text), rally.hook_gmail(text)
    to rally_web;
