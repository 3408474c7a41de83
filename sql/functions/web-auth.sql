-- SPDX-License-Identifier: ISC
-- Sign-up, sign-in throttling and session resumption for rally.cgi
-- (docs/web.md, "Accounts and sessions").  Security definer: each runs
-- before the CGI knows a tenant, takes nothing from the caller but the
-- values it checks, and returns no more than the CGI needs.  The password
-- is hashed and verified in C (argon2id, lib/passwd); SQL only stores it.
set local role rally_owner;

-- The throttling key of an account address or a client address.
create or replace function rally.login_key(p_kind text, p_value text) returns bytea
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
	select sha256(convert_to(p_kind || ':' || lower(coalesce(p_value, '')), 'UTF8'))
$$;

-- Seconds until fewer than p_limit1 attempts under p_key1 and fewer than
-- p_limit2 under p_key2 lie within p_window (0: one may be made now): the
-- wait ends when the oldest of the counted attempts leaves the window.
-- Sign-in and password reset throttle with it, each with its own keys.
create or replace function rally.throttle_wait(p_key1 bytea, p_limit1 int,
    p_key2 bytea, p_limit2 int, p_window interval) returns integer
language sql stable
set search_path = pg_catalog, pg_temp
as $$
	with w as (
		select k.limit_n, f.at
		from (values (p_key1, p_limit1), (p_key2, p_limit2)) k(key_hash, limit_n)
		cross join lateral (
			select at from rally.login_failures
			where key_hash = k.key_hash and at > now() - p_window
			order by at desc limit k.limit_n) f
	), per_key as (
		select limit_n, count(*) as n, min(at) as oldest from w group by limit_n
	)
	select coalesce(max(ceil(extract(epoch from
	    oldest + p_window - now())))::integer, 0)
	from per_key where n >= limit_n
$$;

-- How many seconds the client must wait before it may try to sign in as
-- p_email from p_addr: 0 when it may.  Five failures for an account or
-- twenty from an address within fifteen minutes lock it until the oldest
-- of them is fifteen minutes old.  The same answer whether the account
-- exists or not.
create or replace function rally.web_login_wait(p_email text, p_addr text)
returns integer
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
	select rally.throttle_wait(rally.login_key('account', p_email), 5,
	    rally.login_key('address', p_addr), 20, interval '15 minutes')
$$;

-- A failed sign-in (or a sign-up, kind 'signup'): counted under both keys.
create or replace function rally.web_login_failed(p_email text, p_addr text)
returns void
language sql security definer
set search_path = pg_catalog, pg_temp
as $$
	delete from rally.login_failures where at < now() - interval '1 day';
	insert into rally.login_failures (key_hash)
	values (rally.login_key('account', p_email)), (rally.login_key('address', p_addr));
$$;

-- A successful sign-in clears the account's count (not the address's: a
-- client guessing many accounts stays slowed down).
create or replace function rally.web_login_succeeded(p_email text)
returns void
language sql security definer
set search_path = pg_catalog, pg_temp
as $$
	delete from rally.login_failures where key_hash = rally.login_key('account', p_email);
$$;

-- Sign-up: a new workspace and its owner, who may sign in at once.  At
-- most ten sign-ups an hour from one client address.  Returns the new
-- ids, or raises 'P0001' with a message the page can show.
create or replace function rally.web_signup(p_company text, p_size text,
    p_name text, p_email text, p_password_hash text, p_addr text)
returns table (tenant_id uuid, user_id uuid)
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	t uuid;
	u uuid;
begin
	if (select count(*) from rally.login_failures
	    where key_hash = rally.login_key('signup', p_addr)
	        and at > now() - interval '1 hour') >= 10 then
		raise exception 'Too many sign-ups from this address; try again in an hour.'
		    using errcode = 'P0001';
	end if;
	insert into rally.login_failures (key_hash)
	values (rally.login_key('signup', p_addr));
	insert into rally.tenants (name, company_size)
	values (p_company, nullif(p_size, '')) returning tenants.tenant_id into t;
	insert into rally.users (tenant_id, email, name, password_hash, role)
	values (t, p_email, p_name, p_password_hash, 'owner') returning users.id into u;
	perform rally.audit_about(t, 'user', u, 'tenant.signup', 'tenant', t);
	return query select t, u;
end
$$;

-- The session of a cookie: its tenant, user and CSRF secret when it is
-- live (absolute expiry not reached, used within p_idle, user and tenant
-- active).  A session idle too long is deleted.  last_seen_at is written
-- at most once a minute, so page views do not each write a row, and only
-- when no other request holds the row: a browser's (or a FastCGI pool's)
-- parallel requests of one session would otherwise queue on its row lock,
-- each holding it until its own request ends.
create or replace function rally.web_session_resume(p_id_hash bytea, p_idle interval)
returns table (tenant_id uuid, user_id uuid, csrf_secret bytea)
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	s rally.sessions;
begin
	select * into s from rally.sessions where id_hash = p_id_hash;
	if s.id_hash is null then
		return;
	end if;
	if s.expires_at <= now() or s.last_seen_at <= now() - p_idle then
		delete from rally.sessions x
		where x.tenant_id = s.tenant_id and x.id_hash = s.id_hash;
		return;
	end if;
	if not exists (select 1 from rally.users u
	    join rally.tenants t on t.tenant_id = u.tenant_id
	    where u.tenant_id = s.tenant_id and u.id = s.user_id
	        and u.status = 'active' and t.status = 'active') then
		return;
	end if;
	if s.last_seen_at < now() - interval '1 minute' then
		perform 1 from rally.sessions x
		where x.tenant_id = s.tenant_id and x.id_hash = s.id_hash
		    and x.last_seen_at < now() - interval '1 minute'
		for update skip locked;
		if found then
			update rally.sessions x set last_seen_at = now()
			where x.tenant_id = s.tenant_id and x.id_hash = s.id_hash;
		end if;
	end if;
	return query select s.tenant_id, s.user_id, s.csrf_secret;
end
$$;

grant execute on function rally.web_login_wait(text, text),
    rally.web_login_failed(text, text), rally.web_login_succeeded(text),
    rally.web_signup(text, text, text, text, text, text),
    rally.web_session_resume(bytea, interval) to rally_web;

-- Sign-out, and the old session of a browser that signs in again: whoever
-- holds the id may end it.
create or replace function rally.web_session_end(p_id_hash bytea) returns void
language sql security definer
set search_path = pg_catalog, pg_temp
as $$
	delete from rally.sessions where id_hash = p_id_hash;
$$;
grant execute on function rally.web_session_end(bytea) to rally_web;
