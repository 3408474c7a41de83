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

revoke all on function rally.hmac_sha256(bytea, bytea), rally.ledger_key(),
    rally.ledger_hash(text, uuid), rally.ledger_matches(bytea, text, text, uuid)
    from public;
grant execute on function rally.ledger_hash(text, uuid),
    rally.ledger_matches(bytea, text, text, uuid) to rally_daemon;
