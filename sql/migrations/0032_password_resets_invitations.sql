-- Password reset links and invitations to a workspace (docs/web.md,
-- "Accounts, invitations and the team").  Both are single-use links sent
-- by email; the tables keep only the SHA-256 of a link's token, so a copy
-- of the database opens no account.  rally.cgi reaches them only through
-- the functions of sql/functions/web-accounts.sql, except that owners and
-- admins read their workspace's pending invitations (the team page).
set local role rally_owner;

-- One row per reset link sent, valid an hour.  Using one deletes every
-- link of the user; a user's links go with the user.
create table rally.password_resets (
	tenant_id uuid not null,
	token_hash bytea not null check (length(token_hash) = 32),
	user_id uuid not null,
	-- The notice that carries the link: emptied once the link is used.
	notice_id uuid,
	created_at timestamptz not null default now(),
	expires_at timestamptz not null,
	primary key (tenant_id, token_hash),
	foreign key (tenant_id, user_id) references rally.users on delete cascade,
	check (expires_at > created_at)
);
-- Looked up by token before the tenant is known.
create index password_resets_lookup on rally.password_resets (token_hash);
create index password_resets_user on rally.password_resets (tenant_id, user_id);
create index password_resets_expiry on rally.password_resets (expires_at);
select rally.secure_table('rally.password_resets');
grant select, delete on rally.password_resets to rally_daemon;
-- rally_web has no grant: only the functions touch it.

-- A pending invitation, valid 7 days: the address, the role it gives
-- (owners are made by promotion, never invited) and who sent it.  The row
-- is deleted when it is accepted or revoked, and expired rows when the
-- workspace next invites, so the address of someone who never joined is
-- not kept.  One pending invitation per address and workspace.
create table rally.invitations (
	tenant_id uuid not null references rally.tenants on delete cascade,
	id uuid not null default gen_random_uuid(),
	email text not null
	    check (length(email) between 3 and 320 and email like '_%@_%'),
	role text not null check (role in ('admin', 'member')),
	token_hash bytea not null check (length(token_hash) = 32),
	invited_by uuid,
	notice_id uuid,
	created_at timestamptz not null default now(),
	expires_at timestamptz not null,
	primary key (tenant_id, id),
	-- The invitation stays the workspace's when its sender leaves.
	foreign key (tenant_id, invited_by) references rally.users
	    on delete set null (invited_by),
	check (expires_at > created_at)
);
create unique index invitations_email on rally.invitations (tenant_id, lower(email));
create index invitations_lookup on rally.invitations (token_hash);
create index invitations_created on rally.invitations (tenant_id, created_at);
select rally.secure_table('rally.invitations');
grant select, delete on rally.invitations to rally_daemon;

-- Owners and admins see their workspace's invitations, never the token hash.
grant select (tenant_id, id, email, role, invited_by, created_at, expires_at)
    on rally.invitations to rally_web;
create policy web_select on rally.invitations for select to rally_web
    using (tenant_id = rally.current_tenant()
        and (select rally.current_user_role()) in ('owner', 'admin'));
