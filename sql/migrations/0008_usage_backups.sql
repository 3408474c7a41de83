-- Usage data (recorded unless the user objected) and the backup catalogue.
set local role rally_owner;

create table rally.usage_events (
	tenant_id uuid not null,
	id bigint generated always as identity,
	user_id uuid not null,
	kind text not null check (kind ~ '^[a-z][a-z0-9_.]{0,63}$'),
	-- Ids and counts only: no content the user typed.
	detail jsonb not null default '{}' check (jsonb_typeof(detail) = 'object'),
	occurred_at timestamptz not null default now(),
	primary key (tenant_id, id),
	foreign key (tenant_id, user_id) references rally.users on delete cascade
);
create index usage_events_day on rally.usage_events (tenant_id, occurred_at);
create index usage_events_user on rally.usage_events (tenant_id, user_id);

create table rally.usage_daily (
	tenant_id uuid not null,
	day date not null,
	user_id uuid not null,
	kind text not null check (kind ~ '^[a-z][a-z0-9_.]{0,63}$'),
	count bigint not null default 0 check (count >= 0),
	primary key (tenant_id, day, user_id, kind),
	foreign key (tenant_id, user_id) references rally.users on delete cascade
);
create index usage_daily_user on rally.usage_daily (tenant_id, user_id);

-- Objection (DESIGN section 6), enforced here for every writer: nothing is
-- recorded for a user who opted out, and opting out removes what was
-- recorded, rollups included.  Both run as rally_owner so they see the user
-- and the rows whoever the caller is.
create function rally.usage_events_respect_opt_out() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	if exists (select 1 from rally.users u
	    where u.tenant_id = new.tenant_id and u.id = new.user_id
	        and u.analytics_opt_out) then
		return null;
	end if;
	return new;
end
$$;
create trigger respect_opt_out before insert on rally.usage_events
    for each row execute function rally.usage_events_respect_opt_out();
create trigger respect_opt_out before insert on rally.usage_daily
    for each row execute function rally.usage_events_respect_opt_out();

create function rally.users_forget_usage() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	delete from rally.usage_events where tenant_id = new.tenant_id and user_id = new.id;
	delete from rally.usage_daily where tenant_id = new.tenant_id and user_id = new.id;
	return null;
end
$$;
create trigger forget_usage after update of analytics_opt_out on rally.users
    for each row when (new.analytics_opt_out and not old.analytics_opt_out)
    execute function rally.users_forget_usage();

-- Whole-database backups belong to the system tenant.
create table rally.backups (
	tenant_id uuid not null default '00000000-0000-0000-0000-000000000000'
	    check (tenant_id = '00000000-0000-0000-0000-000000000000'),
	id uuid not null default gen_random_uuid(),
	file_name text not null check (file_name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$'),
	status text not null default 'running'
	    check (status in ('running', 'complete', 'failed', 'pruned')),
	size_bytes bigint check (size_bytes >= 0),
	sha256 bytea check (length(sha256) = 32),
	key_id bigint check (key_id between 1 and 2147483648),
	instance text check (length(instance) <= 255),
	started_at timestamptz not null default now(),
	finished_at timestamptz,
	verified_at timestamptz,
	pruned_at timestamptz,
	error text check (length(error) <= 2000),
	primary key (tenant_id, id),
	unique (tenant_id, file_name),
	check (status <> 'complete' or (size_bytes is not null and sha256 is not null
	    and key_id is not null and finished_at is not null))
);
create index backups_started on rally.backups (started_at);

select rally.secure_table('rally.usage_events');
select rally.secure_table('rally.usage_daily');
select rally.secure_table('rally.backups');

grant select, insert, update, delete on rally.usage_events, rally.usage_daily,
    rally.backups to rally_daemon;

-- The CGI records its user's interactions; it reads rollups: the user's
-- own, and the whole tenant's for owners and admins.
grant insert (tenant_id, user_id, kind, detail) on rally.usage_events to rally_web;
create policy web_insert on rally.usage_events for insert to rally_web
    with check (tenant_id = rally.current_tenant() and user_id = rally.current_user_id());
grant select on rally.usage_daily to rally_web;
create policy web_select on rally.usage_daily for select to rally_web
    using (tenant_id = rally.current_tenant() and (user_id = rally.current_user_id()
        or (select rally.current_user_role()) in ('owner', 'admin')));
