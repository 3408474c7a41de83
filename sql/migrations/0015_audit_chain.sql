-- A hash chain through rally.audit_log, so that a rewrite by whoever can
-- get past the append-only triggers (the owner, a superuser) is
-- detectable: each entry carries its position, the hash of the entry
-- before it and its own hash over both and its fields.  The trigger that
-- fills them in and rally.audit_verify() are in sql/functions/audit.sql;
-- sql/README.md says what the chain proves and what it does not.
--
-- One chain for the whole table, not one per tenant: audit writes are
-- rare, and a per-tenant chain would let a whole tenant's history vanish
-- without a trace.  seq is unique by construction (the trigger serializes
-- inserts), so its index is a plain one, not a key.
set local role rally_owner;

alter table rally.audit_log
    add column seq bigint,
    add column prev_hash bytea,
    add column hash bytea;

-- NOT VALID: entries written before this migration stay outside the chain
-- (seq null); every entry written or changed from now on must be in it,
-- also when the triggers are disabled.
alter table rally.audit_log add constraint audit_log_chained
    check (seq is not null and seq >= 1 and prev_hash is not null
        and length(prev_hash) = 32 and hash is not null and length(hash) = 32) not valid;

create index audit_log_seq on rally.audit_log (seq);
