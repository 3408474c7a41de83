-- SPDX-License-Identifier: ISC
-- Password reset, invitations and the team for rally.cgi (docs/web.md,
-- "Accounts, invitations and the team"; tables in migration 0032).
--
-- Links are single-use tokens: 32 random bytes made by the CGI, base64url
-- (43 characters).  Only sha256 of the token's text is stored; the token
-- itself lives only in the notice that mails it, whose body is replaced
-- once it is sent (daemon/job-notice.c) or the link is used.  The
-- functions before the tenant is known (reset, accepting an invitation)
-- take nothing from the caller but the values they check; those of the
-- team page act in the caller's tenant as the caller, and answer about
-- anyone outside it as about no one.
set local role rally_owner;

-- A token's stored form; NULL for anything that is not one.
create or replace function rally.link_token_hash(p_token text) returns bytea
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
	select case when p_token ~ '^[A-Za-z0-9_-]{43}$'
	    then sha256(convert_to(p_token, 'UTF8')) end
$$;

-- p_base_url (web.public_url) without a trailing '/'.
create or replace function rally.link_url(p_base_url text, p_path text, p_token text)
returns text
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
	select rtrim(p_base_url, '/') || p_path || p_token
$$;

-- A name for a one-line subject.
create or replace function rally.subject_text(p text) returns text
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
	select left(regexp_replace(p, '[[:cntrl:]]+', ' ', 'g'), 200)
$$;

-- --- password reset -------------------------------------------------------

-- Seconds before p_email may be sent another link from p_addr (0: now):
-- three requests an hour per address asked for, ten per client address,
-- counted whether an account has the address or not.
create or replace function rally.reset_wait(p_email text, p_addr text) returns integer
language sql stable
set search_path = pg_catalog, pg_temp
as $$
	select rally.throttle_wait(rally.login_key('reset-account', p_email), 3,
	    rally.login_key('reset-address', p_addr), 10, interval '1 hour')
$$;

-- "Send me a link": for each active account with the address (in active
-- workspaces, at most as many as tokens are given, most recently used
-- first) a reset link valid one hour, mailed as a notice.  Returns the
-- seconds to wait when throttled (nothing is sent), else 0, whether any
-- account has the address or not.
create or replace function rally.web_reset_request(p_email text, p_addr text,
    p_tokens text[], p_base_url text) returns integer
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	wait integer := rally.reset_wait(p_email, p_addr);
	r record;
	tok text;
	nid uuid;
begin
	if wait > 0 then
		return wait;
	end if;
	delete from rally.login_failures where at < now() - interval '1 day';
	insert into rally.login_failures (key_hash)
	values (rally.login_key('reset-account', p_email)),
	       (rally.login_key('reset-address', p_addr));
	delete from rally.password_resets where expires_at < now();
	for r in select u.tenant_id, u.id, t.name,
	        -- Confirmed addresses first (migration 0064): workspaces
	        -- others opened under the address cannot crowd them out.
	        row_number() over (order by u.email_confirmed_at is null,
	            u.last_login_at desc nulls last, u.created_at desc) as n
	    from rally.users u join rally.tenants t on t.tenant_id = u.tenant_id
	    where lower(u.email) = lower(p_email) and u.status = 'active' and t.status = 'active'
	    order by n limit coalesce(array_length(p_tokens, 1), 0) loop
		tok := p_tokens[r.n];
		if rally.link_token_hash(tok) is null then
			raise exception 'web_reset_request: a token is 43 base64url characters'
			    using errcode = '22023';
		end if;
		nid := rally.notice_queue_secret(r.tenant_id, r.id, null, 'security',
		    'Reset your Rally password',
		    format(E'Someone asked to reset the password of your Rally account in the '
		        'workspace %s.\n\nTo choose a new password, open this link within an '
		        'hour:\n\n%s\n\nThe link works once. If you did not ask for this, ignore '
		        'this message: your password stays as it is.\n',
		        rally.subject_text(r.name), rally.link_url(p_base_url, '/reset/', tok)));
		insert into rally.password_resets (tenant_id, token_hash, user_id, notice_id,
		    expires_at)
		values (r.tenant_id, rally.link_token_hash(tok), r.id, nid,
		    now() + interval '1 hour');
	end loop;
	return 0;
end
$$;

-- The account a live reset link is for: its address and workspace; no row
-- when the link is unknown, expired, used, or its account not active.
create or replace function rally.web_reset_check(p_token text)
returns table (email text, tenant_name text)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
	select u.email, t.name from rally.password_resets r
	join rally.users u on u.tenant_id = r.tenant_id and u.id = r.user_id
	join rally.tenants t on t.tenant_id = r.tenant_id
	where r.token_hash = rally.link_token_hash(p_token) and r.expires_at > now()
	    and u.status = 'active' and t.status = 'active'
$$;

-- Every reset link of a user stops working, and its notice no longer holds
-- it: emptied once sent, dropped while still queued.
create or replace function rally.password_resets_void(p_tenant uuid, p_user uuid)
returns void
language sql
set search_path = pg_catalog, pg_temp
as $$
	delete from rally.notices n using rally.password_resets r
	where r.tenant_id = p_tenant and r.user_id = p_user and n.tenant_id = p_tenant
	    and n.id = r.notice_id and n.status = 'queued';
	update rally.notices n set body_text = rally.notice_secret_removed()
	from rally.password_resets r
	where r.tenant_id = p_tenant and r.user_id = p_user and n.tenant_id = p_tenant
	    and n.id = r.notice_id;
	delete from rally.password_resets where tenant_id = p_tenant and user_id = p_user;
$$;

-- Uses a reset link: the new password hash (argon2id, made by the CGI) is
-- stored, every session of the user ends, every reset link of the user is
-- voided (their notices emptied, or dropped while still unsent), and the
-- sign-in throttle of the address is cleared.  False when the link is not
-- live.  Two uses at once: the second waits for the first and finds nothing.
create or replace function rally.web_reset_complete(p_token text, p_password_hash text)
returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	t uuid;
	u uuid;
	e text;
begin
	select r.tenant_id, r.user_id into t, u from rally.password_resets r
	join rally.users x on x.tenant_id = r.tenant_id and x.id = r.user_id
	join rally.tenants n on n.tenant_id = r.tenant_id
	where r.token_hash = rally.link_token_hash(p_token) and r.expires_at > now()
	    and x.status = 'active' and n.status = 'active'
	for update of r;
	if t is null then
		return false;
	end if;
	-- The link was mailed to the address: it is the holder's.
	update rally.users set password_hash = p_password_hash, updated_at = now(),
	    email_confirmed_at = coalesce(email_confirmed_at, now())
	where tenant_id = t and id = u returning email into e;
	delete from rally.sessions where tenant_id = t and user_id = u;
	perform rally.password_resets_void(t, u);
	delete from rally.login_failures where key_hash = rally.login_key('account', e);
	perform rally.audit_about(t, 'user', u, 'user.password_reset', 'user', u);
	return true;
end
$$;

-- --- invitations --------------------------------------------------------

-- Deletes invitations of p_tenant (all of them matching p_id, or the
-- expired ones when p_id is NULL) with their notices.  The number deleted.
create or replace function rally.invitations_drop(p_tenant uuid, p_id uuid) returns integer
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
	n integer;
begin
	with gone as (
		delete from rally.invitations i
		where i.tenant_id = p_tenant
		    and (case when p_id is null then i.expires_at <= now() else i.id = p_id end)
		returning i.notice_id)
	delete from rally.notices x using gone
	where x.tenant_id = p_tenant and x.id = gone.notice_id;
	get diagnostics n = row_count;
	return n;
end
$$;

-- An owner or admin of the caller's workspace invites p_email as p_role
-- (only owners invite admins).  The answer, one word: 'sent', 'forbidden'
-- (the caller may not), 'address' (not one plain address), 'member' (an
-- account of the workspace has the address), 'pending' (an invitation to
-- it is pending), 'full' (100 pending).  The link, valid 7 days, is
-- mailed to the address as a notice filed under the caller.
create or replace function rally.web_invite_create(p_email text, p_role text,
    p_token text, p_base_url text) returns text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	t uuid := rally.current_tenant();
	me rally.users;
	tname text;
	iid uuid;
	nid uuid;
begin
	select * into me from rally.users where tenant_id = t and id = rally.current_user_id()
	    and status = 'active';
	if me.id is null or me.role not in ('owner', 'admin') or p_role not in ('admin', 'member')
	    or (p_role = 'admin' and me.role <> 'owner') then
		return 'forbidden';
	end if;
	if rally.link_token_hash(p_token) is null then
		raise exception 'web_invite_create: a token is 43 base64url characters'
		    using errcode = '22023';
	end if;
	-- The address must pass notices.to_address's check (migration 0033).
	if length(p_email) > 320 or p_email !~ '^[^@]+@[^@]+$'
	    or p_email ~ '[[:space:][:cntrl:]<>(),;:"\[\]\\]' then
		return 'address';
	end if;
	perform rally.invitations_drop(t, null);
	if exists (select 1 from rally.users where tenant_id = t and lower(email) = lower(p_email)) then
		return 'member';
	end if;
	if (select count(*) from rally.invitations where tenant_id = t) >= 100 then
		return 'full';
	end if;
	insert into rally.invitations (tenant_id, email, role, token_hash, invited_by, expires_at)
	values (t, p_email, p_role, rally.link_token_hash(p_token), me.id,
	    now() + interval '7 days')
	on conflict (tenant_id, lower(email)) do nothing
	returning id into iid;
	if iid is null then
		return 'pending';
	end if;
	select name into tname from rally.tenants where tenant_id = t;
	nid := rally.notice_queue_secret(t, me.id, p_email, 'support',
	    rally.subject_text(format('You are invited to join %s on Rally', tname)),
	    format(E'%s invited you to join the workspace %s on Rally, the CRM, as %s.\n\n'
	        'To accept, open this link within 7 days and choose your password:\n\n%s\n\n'
	        'The link works once. If you do not know %s, ignore this message.\n',
	        rally.subject_text(coalesce(nullif(me.name, ''), me.email)),
	        rally.subject_text(tname), case p_role when 'admin' then 'an admin' else 'a member' end,
	        rally.link_url(p_base_url, '/invite/', p_token),
	        rally.subject_text(coalesce(nullif(me.name, ''), me.email))));
	update rally.invitations set notice_id = nid where tenant_id = t and id = iid;
	perform rally.audit_about(t, 'user', me.id, 'team.invited', 'invitation', iid,
	    jsonb_build_object('role', p_role));
	return 'sent';
end
$$;

-- The invitation of a live link: its workspace, address and role.
create or replace function rally.web_invite_lookup(p_token text)
returns table (tenant_name text, email text, role text)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
	select t.name, i.email, i.role from rally.invitations i
	join rally.tenants t on t.tenant_id = i.tenant_id
	where i.token_hash = rally.link_token_hash(p_token) and i.expires_at > now()
	    and t.status = 'active'
$$;

-- Accepts an invitation: the account is created in its workspace with its
-- address and role, p_name and the password hash made by the CGI; the
-- invitation and its notice are deleted.  The new ids, or no row when the
-- link is not live or the address has meanwhile got an account there.
create or replace function rally.web_invite_accept(p_token text, p_name text,
    p_password_hash text) returns table (tenant_id uuid, user_id uuid)
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- The output columns are named like the table's: names in statements are columns.
#variable_conflict use_column
declare
	inv rally.invitations;
	u uuid;
begin
	select i.* into inv from rally.invitations i
	join rally.tenants t on t.tenant_id = i.tenant_id
	where i.token_hash = rally.link_token_hash(p_token) and i.expires_at > now()
	    and t.status = 'active'
	for update of i;
	if inv.id is null then
		return;
	end if;
	perform rally.invitations_drop(inv.tenant_id, inv.id);
	-- The invitation was mailed to the address: it is the holder's.
	insert into rally.users (tenant_id, email, name, password_hash, role,
	    email_confirmed_at)
	values (inv.tenant_id, inv.email, p_name, p_password_hash, inv.role, now())
	on conflict (tenant_id, lower(email)) do nothing
	returning id into u;
	if u is null then
		return;
	end if;
	perform rally.audit_about(inv.tenant_id, 'user', u, 'team.joined', 'user', u,
	    jsonb_build_object('role', inv.role));
	return query select inv.tenant_id, u;
end
$$;

-- An owner or admin revokes a pending invitation of their workspace.
-- False for anything else (another workspace's, gone, not allowed).
create or replace function rally.web_invite_revoke(p_id uuid) returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	t uuid := rally.current_tenant();
begin
	if (select rally.current_user_role()) is distinct from 'owner'
	    and (select rally.current_user_role()) is distinct from 'admin' then
		return false;
	end if;
	if not exists (select 1 from rally.invitations where tenant_id = t and id = p_id) then
		return false;
	end if;
	perform rally.invitations_drop(t, p_id);
	perform rally.audit_about(t, 'user', rally.current_user_id(), 'team.invitation_revoked',
	    'invitation', p_id);
	return true;
end
$$;

-- --- the team -------------------------------------------------------------

-- Locks the active owners of p_tenant (in id order), so that two owners
-- demoting or removing each other at once cannot leave none.
create or replace function rally.team_lock_owners(p_tenant uuid) returns integer
language sql
set search_path = pg_catalog, pg_temp
as $$
	with o as (select id from rally.users where tenant_id = p_tenant and role = 'owner'
	    and status = 'active' order by id for update)
	select count(*)::integer from o
$$;

-- An owner gives an active member of their workspace p_role.  One word:
-- 'changed', 'unchanged', 'last_owner' (the only owner is never demoted),
-- 'forbidden' (the caller is not an owner), 'not_found'.
create or replace function rally.web_member_role(p_user uuid, p_role text) returns text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	t uuid := rally.current_tenant();
	owners integer;
	old text;
begin
	if (select rally.current_user_role()) is distinct from 'owner' then
		return 'forbidden';
	end if;
	if p_role not in ('owner', 'admin', 'member') then
		raise exception 'web_member_role: owner, admin or member' using errcode = '22023';
	end if;
	owners := rally.team_lock_owners(t);
	select role into old from rally.users where tenant_id = t and id = p_user
	    and status = 'active' for update;
	if old is null then
		return 'not_found';
	end if;
	if old = p_role then
		return 'unchanged';
	end if;
	if old = 'owner' and owners <= 1 then
		return 'last_owner';
	end if;
	update rally.users set role = p_role, updated_at = now()
	where tenant_id = t and id = p_user;
	perform rally.audit_about(t, 'user', rally.current_user_id(), 'team.role_changed',
	    'user', p_user, jsonb_build_object('from', old, 'to', p_role));
	return 'changed';
end
$$;

-- An owner removes another active member of their workspace: an account
-- deletion (rally.account_delete_request) with actor 'user' (the owner)
-- and no grace period, so the member cannot cancel it by signing in; the
-- purge is due within p_lag (compliance.purge_lag).  One word: 'removed',
-- 'self' (owners leave by deleting their own account), 'forbidden',
-- 'not_found'.
create or replace function rally.web_member_remove(p_user uuid, p_lag interval) returns text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	t uuid := rally.current_tenant();
	me uuid := rally.current_user_id();
begin
	if (select rally.current_user_role()) is distinct from 'owner' then
		return 'forbidden';
	end if;
	if p_user = me then
		return 'self';
	end if;
	perform rally.team_lock_owners(t);
	perform 1 from rally.users where tenant_id = t and id = p_user and status = 'active'
	    for update;
	if not found then
		return 'not_found';
	end if;
	perform rally.audit_about(t, 'user', me, 'team.member_removed', 'user', p_user);
	perform rally.account_delete_request(t, p_user, 'user', me, interval '0', p_lag);
	return 'removed';
end
$$;

revoke all on function rally.link_token_hash(text), rally.link_url(text, text, text),
    rally.subject_text(text), rally.reset_wait(text, text),
    rally.web_reset_request(text, text, text[], text), rally.web_reset_check(text),
    rally.web_reset_complete(text, text), rally.password_resets_void(uuid, uuid),
    rally.invitations_drop(uuid, uuid),
    rally.web_invite_create(text, text, text, text), rally.web_invite_lookup(text),
    rally.web_invite_accept(text, text, text), rally.web_invite_revoke(uuid),
    rally.team_lock_owners(uuid), rally.web_member_role(uuid, text),
    rally.web_member_remove(uuid, interval) from public;
grant execute on function rally.web_reset_request(text, text, text[], text),
    rally.web_reset_check(text), rally.web_reset_complete(text, text),
    rally.web_invite_create(text, text, text, text), rally.web_invite_lookup(text),
    rally.web_invite_accept(text, text, text), rally.web_invite_revoke(uuid),
    rally.web_member_role(uuid, text), rally.web_member_remove(uuid, interval) to rally_web;
