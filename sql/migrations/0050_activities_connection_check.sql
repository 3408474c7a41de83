-- SPDX-License-Identifier: ISC
-- A synced activity's connection is checked once per INSERT statement
-- instead of once per row: the foreign key (tenant_id, connection_id,
-- owner_id) → rally.google_connections (tenant_id, id, user_id) on delete
-- cascade goes, and the triggers of sql/functions/activities-references.sql
-- keep what it guaranteed (the check, its lock, the cascade, no key change
-- under it).  A first sync of 10,000 events made 11,500 lookups of the same
-- connection (9.5 % of the apply's instructions, docs/calendar-sync.md).
--
-- Locks: dropping a foreign key takes an ACCESS EXCLUSIVE lock on
-- rally.activities, a big table, and on rally.google_connections, for the
-- moment of the catalog change only: nothing is rewritten or scanned.  The
-- functions files are applied by the same `rallyctl migrate` right after
-- the migrations, in a transaction of their own: until they are, nothing
-- checks the reference, so run the two together as always.
set local role rally_owner;

alter table rally.activities
    drop constraint activities_tenant_id_connection_id_owner_id_fkey;
