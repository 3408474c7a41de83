-- SPDX-License-Identifier: ISC
-- Rectification and objection (docs/compliance.md): a user, or an
-- operator for them, corrects their name and address and, for owners,
-- the company and billing details; and objects to analytics, which stops
-- usage recording and removes them from the rollups (the triggers of
-- usage.sql).  Every change is audited, naming the fields, never values.
set local role rally_owner;

-- The fields rally.account_update takes, and what each belongs to.
create or replace function rally.account_fields() returns jsonb
language sql immutable parallel safe
as $$
	select '{"name": "users", "email": "users", "analytics_opt_out": "users",
	    "time_zone": "users",
	    "company_name": "tenants", "company_size": "tenants",
	    "billing_email": "billing", "billing_name": "billing",
	    "address_line1": "billing", "address_line2": "billing",
	    "postal_code": "billing", "city": "billing", "region": "billing",
	    "country": "billing", "vat_id": "billing"}'::jsonb
$$;

-- p_changes: an object of fields of rally.account_fields() and their new
-- values (a JSON null clears an optional one).  Company and billing need
-- an owner when the actor is the user.  Returns the fields changed.
create or replace function rally.account_update(p_tenant uuid, p_user uuid, p_actor text,
    p_changes jsonb) returns text[]
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	u rally.users;
	k text;
	tbl text;
	changed text[] := '{}';
	b jsonb;
begin
	if jsonb_typeof(p_changes) is distinct from 'object' then
		raise exception 'account_update: the changes must be a JSON object'
		    using errcode = '22023';
	end if;
	select * into u from rally.users where tenant_id = p_tenant and id = p_user
	    and status = 'active' for update;
	if not found then
		return null;
	end if;
	for k in select jsonb_object_keys(p_changes) loop
		tbl := rally.account_fields()->>k;
		if tbl is null then
			raise exception 'account_update: "%" is not a field a user may change', k
			    using errcode = '22023';
		end if;
		if tbl <> 'users' and p_actor = 'user' and u.role <> 'owner' then
			raise exception 'account_update: only an owner changes the company and billing details'
			    using errcode = '42501';
		end if;
	end loop;
	-- A zone PostgreSQL knows: the pages set it as the transaction's TimeZone.
	if p_changes ? 'time_zone' and not exists (select 1 from pg_catalog.pg_timezone_names
	    where name = p_changes->>'time_zone') then
		raise exception 'account_update: "%" is not a time zone', p_changes->>'time_zone'
		    using errcode = '22023';
	end if;
	if p_changes ? 'name' or p_changes ? 'email' or p_changes ? 'analytics_opt_out'
	    or p_changes ? 'time_zone' then
		update rally.users set
		    name = coalesce(p_changes->>'name', name),
		    email = coalesce(p_changes->>'email', email),
		    time_zone = coalesce(p_changes->>'time_zone', time_zone),
		    analytics_opt_out = coalesce((p_changes->>'analytics_opt_out')::boolean,
		        analytics_opt_out),
		    updated_at = now()
		where tenant_id = p_tenant and id = p_user;
	end if;
	if p_changes ? 'company_name' or p_changes ? 'company_size' then
		update rally.tenants set name = coalesce(p_changes->>'company_name', name),
		    company_size = case when p_changes ? 'company_size'
		        then p_changes->>'company_size' else company_size end,
		    updated_at = now()
		where tenant_id = p_tenant;
	end if;
	b := p_changes - 'name' - 'email' - 'analytics_opt_out' - 'time_zone' - 'company_name'
	    - 'company_size';
	if b <> '{}' then
		insert into rally.billing_profiles as p (tenant_id, billing_email)
		values (p_tenant, coalesce(b->>'billing_email', u.email))
		on conflict (tenant_id) do nothing;
		update rally.billing_profiles p set
		    billing_email = coalesce(b->>'billing_email', p.billing_email),
		    billing_name = coalesce(b->>'billing_name', p.billing_name),
		    address_line1 = coalesce(b->>'address_line1', p.address_line1),
		    address_line2 = coalesce(b->>'address_line2', p.address_line2),
		    postal_code = coalesce(b->>'postal_code', p.postal_code),
		    city = coalesce(b->>'city', p.city),
		    region = coalesce(b->>'region', p.region),
		    country = case when b ? 'country' then b->>'country' else p.country end,
		    vat_id = case when b ? 'vat_id' then b->>'vat_id' else p.vat_id end,
		    updated_at = now()
		where p.tenant_id = p_tenant;
	end if;
	select array_agg(x order by x) into changed from jsonb_object_keys(p_changes) x;
	perform rally.audit_about(p_tenant, p_actor, p_user,
	    case when p_changes ? 'analytics_opt_out' and cardinality(changed) = 1
	        then 'account.analytics_objection' else 'account.rectified' end,
	    'user', p_user, jsonb_build_object('fields', to_jsonb(changed))
	        || case when p_changes ? 'analytics_opt_out'
	            then jsonb_build_object('analytics_opt_out',
	                (p_changes->>'analytics_opt_out')::boolean) else '{}' end);
	return changed;
end
$$;

-- The CGI: the signed-in user's own account.
create or replace function rally.web_account_update(p_changes jsonb) returns text[]
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	if rally.current_tenant() is null or rally.current_user_id() is null then
		return null;
	end if;
	return rally.account_update(rally.current_tenant(), rally.current_user_id(), 'user',
	    p_changes);
end
$$;

-- Usage recording, for the CGI: nothing for a user who objected (the
-- respect_opt_out trigger of usage.sql drops the row).
create or replace function rally.web_usage_record(p_kind text, p_detail jsonb default '{}')
returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	if rally.current_tenant() is null or rally.current_user_id() is null then
		return;
	end if;
	insert into rally.usage_events (tenant_id, user_id, kind, detail)
	values (rally.current_tenant(), rally.current_user_id(), p_kind,
	    coalesce(p_detail, '{}'));
end
$$;

-- The daily rollup (job usage-rollup): every complete day's raw events
-- counted into usage_daily (recounted while raw events of the day are
-- kept, so a rerun changes nothing), then raw events older than
-- p_retention deleted.  Returns the raw events deleted.
create or replace function rally.usage_rollup(p_retention interval) returns bigint
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	n bigint;
begin
	insert into rally.usage_daily as d (tenant_id, day, user_id, kind, count)
	select e.tenant_id, (e.occurred_at at time zone 'UTC')::date, e.user_id, e.kind, count(*)
	from rally.usage_events e
	join rally.users u on u.tenant_id = e.tenant_id and u.id = e.user_id
	where e.occurred_at < date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'
	    and not u.analytics_opt_out
	group by 1, 2, 3, 4
	on conflict (tenant_id, day, user_id, kind) do update set count = excluded.count;
	delete from rally.usage_events where occurred_at < now() - p_retention;
	get diagnostics n = row_count;
	return n;
end
$$;

revoke all on function rally.account_fields(), rally.account_update(uuid, uuid, text, jsonb),
    rally.web_account_update(jsonb), rally.web_usage_record(text, jsonb),
    rally.usage_rollup(interval) from public;
grant execute on function rally.account_update(uuid, uuid, text, jsonb),
    rally.usage_rollup(interval) to rally_daemon;
grant execute on function rally.web_account_update(jsonb), rally.web_usage_record(text, jsonb)
    to rally_web;
