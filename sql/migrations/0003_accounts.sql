-- Tenants (workspaces), their users, billing details and web sessions.
set local role rally_owner;

create table rally.tenants (
	tenant_id uuid not null default gen_random_uuid(),
	name text not null check (length(name) between 1 and 200),
	company_size text
	    check (company_size in ('1-10', '11-50', '51-200', '201-1000', '1001+')),
	status text not null default 'active'
	    check (status in ('active', 'deletion_pending')),
	deletion_requested_at timestamptz,
	created_at timestamptz not null default now(),
	updated_at timestamptz not null default now(),
	primary key (tenant_id),
	-- The nil uuid is the system tenant, which has no row here, so nothing
	-- that references tenants can be filed under it.
	check (tenant_id <> '00000000-0000-0000-0000-000000000000'),
	check ((status = 'active') = (deletion_requested_at is null))
);

create table rally.users (
	tenant_id uuid not null references rally.tenants on delete cascade,
	id uuid not null default gen_random_uuid(),
	email text not null
	    check (length(email) between 3 and 320 and email like '_%@_%'),
	name text not null default '' check (length(name) <= 200),
	-- argon2id PHC string; NULL until the user has set a password.
	password_hash text
	    check (password_hash like '$argon2id$%' and length(password_hash) <= 512),
	role text not null default 'member' check (role in ('owner', 'admin', 'member')),
	status text not null default 'active'
	    check (status in ('active', 'deletion_pending', 'deleted')),
	analytics_opt_out boolean not null default false,
	deletion_requested_at timestamptz,
	last_login_at timestamptz,
	created_at timestamptz not null default now(),
	updated_at timestamptz not null default now(),
	primary key (tenant_id, id),
	check ((status = 'active') = (deletion_requested_at is null))
);
-- An address is one account per tenant; the same person may belong to
-- several tenants, so login looks the address up across them.
create unique index users_email on rally.users (tenant_id, lower(email));
create index users_login on rally.users (lower(email));

-- Who pays, never how: no card numbers, only the payment provider's
-- reference to its customer record.
create table rally.billing_profiles (
	tenant_id uuid not null references rally.tenants on delete cascade,
	billing_email text not null
	    check (length(billing_email) between 3 and 320 and billing_email like '_%@_%'),
	billing_name text not null default '' check (length(billing_name) <= 200),
	address_line1 text not null default '' check (length(address_line1) <= 200),
	address_line2 text not null default '' check (length(address_line2) <= 200),
	postal_code text not null default '' check (length(postal_code) <= 32),
	city text not null default '' check (length(city) <= 100),
	region text not null default '' check (length(region) <= 100),
	country text check (country ~ '^[A-Z]{2}$'),
	vat_id text check (vat_id ~ '^[A-Z0-9]{2,20}$'),
	plan text not null default 'free' check (plan ~ '^[a-z][a-z0-9_]{0,31}$'),
	payment_provider text check (payment_provider ~ '^[a-z][a-z0-9_]{0,31}$'),
	payment_customer_ref text check (length(payment_customer_ref) <= 255),
	created_at timestamptz not null default now(),
	updated_at timestamptz not null default now(),
	primary key (tenant_id)
);

create table rally.sessions (
	tenant_id uuid not null,
	-- SHA-256 of the session id in the cookie; the id itself is never stored.
	id_hash bytea not null check (length(id_hash) = 32),
	user_id uuid not null,
	csrf_secret bytea not null check (length(csrf_secret) = 32),
	created_at timestamptz not null default now(),
	last_seen_at timestamptz not null default now(),
	expires_at timestamptz not null,
	primary key (tenant_id, id_hash),
	foreign key (tenant_id, user_id) references rally.users on delete cascade,
	check (expires_at > created_at)
);
create index sessions_lookup on rally.sessions (id_hash);
create index sessions_user on rally.sessions (tenant_id, user_id);
create index sessions_expiry on rally.sessions (expires_at);

select rally.secure_table('rally.tenants');
select rally.secure_table('rally.users');
select rally.secure_table('rally.billing_profiles');
select rally.secure_table('rally.sessions');

grant select, insert, update, delete on rally.tenants, rally.users,
    rally.billing_profiles, rally.sessions to rally_daemon;

-- The role of the user the web tier acts for, NULL when there is none or
-- the account is not active.  Runs as the caller, under the users policy.
-- Policies call it as "(select rally.current_user_role())" so that it is
-- evaluated once per query, not once per row.
create function rally.current_user_role() returns text
language sql stable parallel safe
as $$
	select u.role from rally.users u
	where u.tenant_id = rally.current_tenant()
	    and u.id = rally.current_user_id()
	    and u.status = 'active'
$$;
grant execute on function rally.current_user_role() to rally_web, rally_daemon;

-- rally_web: members see their tenant and its members; the owner edits the
-- company details (rectification).
grant select on rally.tenants to rally_web;
grant update (name, company_size, updated_at) on rally.tenants to rally_web;
create policy web_select on rally.tenants for select to rally_web
    using (tenant_id = rally.current_tenant());
create policy web_update on rally.tenants for update to rally_web
    using (tenant_id = rally.current_tenant()
        and (select rally.current_user_role()) = 'owner')
    with check (tenant_id = rally.current_tenant());

-- Members see each other (team features) but never a password hash; a user
-- edits only their own row: profile, password, opt-out, deletion request.
-- Users are created by operators (rallyctl) and deleted by the daemon.
grant select (tenant_id, id, email, name, role, status, analytics_opt_out,
    deletion_requested_at, last_login_at, created_at, updated_at)
    on rally.users to rally_web;
grant update (email, name, password_hash, analytics_opt_out, status,
    deletion_requested_at, last_login_at, updated_at)
    on rally.users to rally_web;
create policy web_select on rally.users for select to rally_web
    using (tenant_id = rally.current_tenant());
create policy web_update on rally.users for update to rally_web
    using (tenant_id = rally.current_tenant() and id = rally.current_user_id())
    with check (tenant_id = rally.current_tenant() and id = rally.current_user_id()
        and status <> 'deleted');

-- Billing details are the tenant owner's to see and edit.
grant select, insert, update on rally.billing_profiles to rally_web;
create policy web_select on rally.billing_profiles for select to rally_web
    using (tenant_id = rally.current_tenant()
        and (select rally.current_user_role()) = 'owner');
create policy web_insert on rally.billing_profiles for insert to rally_web
    with check (tenant_id = rally.current_tenant()
        and (select rally.current_user_role()) = 'owner');
create policy web_update on rally.billing_profiles for update to rally_web
    using (tenant_id = rally.current_tenant()
        and (select rally.current_user_role()) = 'owner')
    with check (tenant_id = rally.current_tenant());

-- A session is its user's: created at login, ended at logout.
grant select, insert, delete on rally.sessions to rally_web;
grant update (last_seen_at, expires_at) on rally.sessions to rally_web;
create policy web_own on rally.sessions to rally_web
    using (tenant_id = rally.current_tenant() and user_id = rally.current_user_id())
    with check (tenant_id = rally.current_tenant() and user_id = rally.current_user_id());

-- The two lookups the CGI makes before it knows the tenant.  Both run as
-- rally_owner and return no more than the CGI needs to set the context;
-- rows are then read under the policies.

-- Login: the active accounts with this address, with their hashes (the
-- CGI verifies the password; several rows mean the address is in several
-- workspaces and the user picks one).
create function rally.web_login_lookup(p_email text)
returns table (tenant_id uuid, user_id uuid, password_hash text)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
	select u.tenant_id, u.id, u.password_hash
	from rally.users u
	join rally.tenants t on t.tenant_id = u.tenant_id
	where lower(u.email) = lower(p_email)
	    and u.status = 'active' and t.status = 'active'
	    and u.password_hash is not null
	order by u.created_at
	limit 20
$$;

-- A request's session cookie: who it belongs to, if it is live and its
-- user may still log in.
create function rally.web_session_lookup(p_id_hash bytea)
returns table (tenant_id uuid, user_id uuid)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
	select s.tenant_id, s.user_id
	from rally.sessions s
	join rally.users u on u.tenant_id = s.tenant_id and u.id = s.user_id
	join rally.tenants t on t.tenant_id = s.tenant_id
	where s.id_hash = p_id_hash and s.expires_at > now()
	    and u.status = 'active' and t.status = 'active'
$$;

grant execute on function rally.web_login_lookup(text),
    rally.web_session_lookup(bytea) to rally_web;
