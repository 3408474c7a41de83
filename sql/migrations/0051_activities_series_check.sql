-- SPDX-License-Identifier: ISC
-- A recurring exception's series is checked once per INSERT statement
-- instead of once per row: the foreign key (tenant_id,
-- recurring_activity_id) → rally.activities (tenant_id, id) on delete
-- cascade goes, and the triggers of sql/functions/activities-references.sql
-- keep what it guaranteed (the check, its lock, the cascade, no key change
-- under it).  The apply plans its statements per call, and PostgreSQL
-- planned that lookup again for every exception inserted (6 % of a first
-- sync's instructions, docs/calendar-sync.md).
--
-- Locks: dropping a foreign key takes an ACCESS EXCLUSIVE lock on
-- rally.activities, a big table, for the moment of the catalog change
-- only: nothing is rewritten or scanned.  As for 0050, the triggers come
-- with the functions files that `rallyctl migrate` applies right after.
set local role rally_owner;

alter table rally.activities
    drop constraint activities_tenant_id_recurring_activity_id_fkey;
