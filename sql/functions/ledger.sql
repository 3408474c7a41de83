-- SPDX-License-Identifier: ISC
-- The keyed hashes of the deletion ledger and the audit log:
-- HMAC-SHA-256(ledger key, "<kind>:<uuid>"), the key from rally.ledger_keys
-- (migration 0024), never readable by the roles that call these.
set local role rally_owner;

-- RFC 2104 over SHA-256 (PostgreSQL has sha256() but no HMAC without
-- pgcrypto).  tests/integration/test_compliance_disconnect.py checks it
-- against Python's hmac.
create or replace function rally.hmac_sha256(p_key bytea, p_msg bytea) returns bytea
language plpgsql immutable strict parallel safe
set search_path = pg_catalog, pg_temp
as $$
declare
	k bytea := p_key;
	ipad bytea;
	opad bytea;
begin
	if length(k) > 64 then
		k := sha256(k);
	end if;
	k := k || decode(repeat('00', 64 - length(k)), 'hex');
	ipad := k;
	opad := k;
	for i in 0..63 loop
		ipad := set_byte(ipad, i, get_byte(k, i) # 54);
		opad := set_byte(opad, i, get_byte(k, i) # 92);
	end loop;
	return sha256(opad || sha256(ipad || p_msg));
end
$$;

-- The newest ledger key, created on first use: 32 bytes from two random
-- (v4) uuids, 244 random bits from PostgreSQL's strong random source.
create or replace function rally.ledger_key(out key_id text, out key bytea)
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	select k.key_id, k.key into key_id, key from rally.ledger_keys k
	order by k.created_at desc, k.key_id desc limit 1;
	if found then
		return;
	end if;
	insert into rally.ledger_keys (key_id, key)
	values ('ledger-1', decode(replace(gen_random_uuid()::text || gen_random_uuid()::text,
	    '-', ''), 'hex'))
	on conflict do nothing;
	select k.key_id, k.key into key_id, key from rally.ledger_keys k
	where k.key_id = 'ledger-1';
end
$$;

-- The subject hash of "<kind>:<id>" under the newest key, and that key's id.
create or replace function rally.ledger_hash(p_kind text, p_id uuid,
    out hash bytea, out key_id text)
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	k record;
begin
	if p_kind is null or p_kind !~ '^[a-z]{1,32}$' or p_id is null then
		raise exception 'ledger_hash: a kind of a-z and an id are needed'
		    using errcode = '22023';
	end if;
	select * into k from rally.ledger_key();
	hash := rally.hmac_sha256(k.key, convert_to(p_kind || ':' || p_id::text, 'UTF8'));
	key_id := k.key_id;
end
$$;

-- Whether hash is "<kind>:<id>" under the key it names (for a restore and
-- for the compliance report, which match ledger entries against rows).
create or replace function rally.ledger_matches(p_hash bytea, p_key_id text,
    p_kind text, p_id uuid) returns boolean
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
	select coalesce((select rally.hmac_sha256(k.key,
	    convert_to(p_kind || ':' || p_id::text, 'UTF8')) = p_hash
	    from rally.ledger_keys k where k.key_id = p_key_id), false)
$$;

-- An audit entry about "<p_kind>:<p_subject>" by p_actor; for actor
-- 'user', p_actor_user is hashed as the actor.  The one writer of the
-- compliance engine's audit entries: hashes only, never the ids.
create or replace function rally.audit_about(p_tenant uuid, p_actor text, p_actor_user uuid,
    p_action text, p_kind text, p_subject uuid, p_detail jsonb default '{}') returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	s record;
	a bytea;
begin
	select * into s from rally.ledger_hash(p_kind, p_subject);
	if p_actor = 'user' and p_actor_user is not null then
		select h.hash into a from rally.ledger_hash('user', p_actor_user) h;
	end if;
	insert into rally.audit_log (tenant_id, actor, actor_hash, action, subject_hash,
	    hash_key_id, detail)
	values (p_tenant, p_actor, a, p_action, s.hash, s.key_id, coalesce(p_detail, '{}'));
end
$$;

-- A deletion ledger entry of p_kind about "<p_subject_kind>:<p_subject>".
create or replace function rally.ledger_add(p_tenant uuid, p_kind text, p_subject_kind text,
    p_subject uuid, p_due timestamptz) returns uuid
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	s record;
	v uuid;
begin
	select * into s from rally.ledger_hash(p_subject_kind, p_subject);
	insert into rally.deletion_ledger (tenant_id, kind, subject_hash, hash_key_id, due_at)
	values (p_tenant, p_kind, s.hash, s.key_id, p_due)
	returning id into v;
	return v;
end
$$;

revoke all on function rally.audit_about(uuid, text, uuid, text, text, uuid, jsonb),
    rally.ledger_add(uuid, text, text, uuid, timestamptz) from public;
revoke all on function rally.hmac_sha256(bytea, bytea), rally.ledger_key(),
    rally.ledger_hash(text, uuid), rally.ledger_matches(bytea, text, text, uuid)
    from public;
grant execute on function rally.ledger_hash(text, uuid),
    rally.ledger_matches(bytea, text, text, uuid) to rally_daemon;
