-- SPDX-License-Identifier: ISC
-- The shared token buckets of rally.quota_buckets (migration 0055), for
-- daemon/google-project.c.
set local role rally_owner;

-- Grants up to p_want units of bucket p_name (refilling at p_rate a
-- second up to p_burst), at least p_need, and only while p_reserve units
-- stay in the bucket after the grant (bulk work leaves a reserve for the
-- sends and incremental syncs of every instance).  When it cannot, it
-- grants nothing and says in how many milliseconds it could.  One
-- statement per grant: the row lock serializes the instances, and the
-- clock is read after the lock, so a waiter never spends the refill of the
-- time it waited twice.
create or replace function rally.quota_grant(p_name text, p_rate float8, p_burst float8,
    p_want float8, p_need float8, p_reserve float8,
    out granted float8, out wait_ms integer)
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
	b rally.quota_buckets;
	t timestamptz;
	lvl float8;
	avail float8;
begin
	if p_rate <= 0 or p_burst <= 0 or p_need <= 0 or p_want < p_need or p_reserve < 0 then
		raise exception 'quota_grant: bad arguments' using errcode = '22023';
	end if;
	insert into rally.quota_buckets (name, level, updated_at)
	values (p_name, p_burst, clock_timestamp()) on conflict (tenant_id, name) do nothing;
	select * into b from rally.quota_buckets
	where tenant_id = '00000000-0000-0000-0000-000000000000' and name = p_name for update;
	t := clock_timestamp();
	lvl := least(p_burst, b.level
	    + greatest(0, extract(epoch from t - b.updated_at)) * p_rate);
	avail := lvl - p_reserve;
	if avail >= p_need then
		granted := least(p_want, avail);
		wait_ms := 0;
	else
		granted := 0;
		wait_ms := least(60000, ceil((p_need - avail) / p_rate * 1000))::integer;
	end if;
	update rally.quota_buckets set level = lvl - granted, updated_at = t
	where tenant_id = '00000000-0000-0000-0000-000000000000' and name = p_name;
end
$$;
revoke all on function rally.quota_grant(text, float8, float8, float8, float8, float8)
    from public;
grant execute on function rally.quota_grant(text, float8, float8, float8, float8, float8)
    to rally_daemon;
