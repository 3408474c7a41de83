-- SPDX-License-Identifier: ISC
-- The hash chain through rally.audit_log (migration 0015): entry seq n
-- holds hash(n) = sha256(hash(n - 1) || its canonical text), hash(0) being
-- 32 zero bytes.  An entry removed or edited in the middle, even with the
-- triggers disabled, breaks every link after it; rally.audit_verify()
-- finds the first.  What the chain cannot show: sql/README.md.
set local role rally_owner;

-- The entry's fields as one text, independent of the session (time zone,
-- DateStyle) and of NULLs: a JSON array in jsonb's own normal form.
create or replace function rally.audit_canonical(a rally.audit_log) returns text
language sql stable parallel safe
set search_path = pg_catalog, pg_temp
as $$
	select jsonb_build_array(a.seq, a.tenant_id, a.id,
	    to_char(a.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
	    a.actor, encode(a.actor_hash, 'hex'), a.action,
	    encode(a.subject_hash, 'hex'), a.hash_key_id, a.detail)::text
$$;

create or replace function rally.audit_hash(p_prev bytea, a rally.audit_log) returns bytea
language sql stable parallel safe
set search_path = pg_catalog, pg_temp
as $$
	select sha256(p_prev || convert_to(rally.audit_canonical(a), 'UTF8'))
$$;

-- BEFORE INSERT: links the entry to the chain's head.  The advisory lock
-- ("rallyaud") makes writers take turns until they commit, so each reads
-- the head its predecessor left; that needs a fresh snapshot per
-- statement, hence READ COMMITTED only (a REPEATABLE READ writer could
-- miss the head and fork the chain).  Security definer: rally_web may
-- write entries but not read them.
create or replace function rally.audit_chain() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	v_head record;
begin
	if current_setting('transaction_isolation') <> 'read committed' then
		raise exception 'rally.audit_log is written in READ COMMITTED transactions only'
		    using errcode = '0A000';
	end if;
	perform pg_advisory_xact_lock(8241988006213416292);  -- "rallyaud"
	select a.seq, a.hash into v_head from rally.audit_log a
	where a.seq is not null
	order by a.seq desc limit 1;
	new.seq := coalesce(v_head.seq, 0) + 1;
	new.prev_hash := coalesce(v_head.hash, decode(repeat('00', 32), 'hex'));
	new.hash := rally.audit_hash(new.prev_hash, new);
	return new;
end
$$;

create or replace trigger audit_chain before insert on rally.audit_log
    for each row execute function rally.audit_chain();
-- ALWAYS, like the append-only triggers: replica mode does not skip it.
alter table rally.audit_log enable always trigger audit_chain;

-- The first seq at which the chain is broken: an entry whose hash is not
-- that of its fields, whose prev_hash is not its predecessor's hash, or a
-- position missing (then that position).  NULL when intact.  Entries from
-- before migration 0015 (seq null) are outside the chain.
create or replace function rally.audit_verify() returns bigint
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
	with links as (
		select a.seq, a.prev_hash, a.hash, rally.audit_hash(a.prev_hash, a) as computed,
		    coalesce(lag(a.seq) over w, 0) as prev_seq,
		    coalesce(lag(a.hash) over w, decode(repeat('00', 32), 'hex')) as prev_hash_seen
		from rally.audit_log a
		where a.seq is not null
		window w as (order by a.seq, a.id)
	)
	select min(case when seq <> prev_seq + 1 then prev_seq + 1 else seq end)
	from links
	where seq <> prev_seq + 1 or prev_hash <> prev_hash_seen or hash <> computed
$$;

-- The chain's head (its last entry), for rallyctl status and backups to
-- record: a rewrite of the chain from some point on is detectable only
-- against a head recorded before it.
create or replace function rally.audit_head(out seq bigint, out hash bytea)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
	select a.seq, a.hash from rally.audit_log a
	where a.seq is not null
	order by a.seq desc limit 1
$$;

revoke all on function rally.audit_canonical(rally.audit_log),
    rally.audit_hash(bytea, rally.audit_log), rally.audit_chain(),
    rally.audit_verify(), rally.audit_head() from public;
grant execute on function rally.audit_verify(), rally.audit_head() to rally_daemon;
