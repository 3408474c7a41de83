-- SPDX-License-Identifier: ISC
-- Usage analytics and the user's objection to them.  First defined in
-- migration 0008; these supersede it.
set local role rally_owner;

-- Objection (the right to object to processing), enforced here for every writer: nothing is
-- recorded for a user who opted out, and opting out removes what was
-- recorded, rollups included.  Both run as rally_owner so they see the user
-- and the rows whoever the caller is.
create or replace function rally.usage_events_respect_opt_out() returns trigger
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
create or replace trigger respect_opt_out before insert on rally.usage_events
    for each row execute function rally.usage_events_respect_opt_out();
create or replace trigger respect_opt_out before insert on rally.usage_daily
    for each row execute function rally.usage_events_respect_opt_out();

create or replace function rally.users_forget_usage() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	delete from rally.usage_events where tenant_id = new.tenant_id and user_id = new.id;
	delete from rally.usage_daily where tenant_id = new.tenant_id and user_id = new.id;
	return null;
end
$$;
create or replace trigger forget_usage after update of analytics_opt_out on rally.users
    for each row when (new.analytics_opt_out and not old.analytics_opt_out)
    execute function rally.users_forget_usage();
