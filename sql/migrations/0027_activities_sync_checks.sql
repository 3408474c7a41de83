-- SPDX-License-Identifier: ISC
-- What PostgreSQL checks for every row a calendar sync writes, made
-- cheaper without checking less (docs/calendar-sync.md, "Cost").
--
-- The owner's foreign key to rally.users is checked only for activities
-- in no calendar (crm_owner_id is owner_id there, NULL otherwise, and a
-- foreign key with a NULL column is not looked up).  A synced activity's
-- owner is checked by its other foreign key, (tenant_id, connection_id,
-- owner_id) to the connection, whose user_id has its own foreign key to
-- rally.users: the owner exists either way, and deleting the user still
-- deletes the activity (through its connection, or directly).  Before, a
-- sync inserting 10,000 events made 10,000 lookups of the same user.
--
-- activities_start serves a tenant's calendar by date, which shows
-- members their colleagues' shared activities (their own come from
-- activities_owner_start): it now holds only shared ones, so a sync does
-- not maintain it for the events it brings, which are private.
--
-- The time zone keeps the same rule: PostgreSQL's regular expressions
-- with a counted repetition ({1,64}) cost about ten times a plain one and
-- a length.
set local role rally_owner;

alter table rally.activities
    add column crm_owner_id uuid
        generated always as (case when connection_id is null then owner_id end) stored;
create index activities_crm_owner on rally.activities (tenant_id, crm_owner_id)
    where crm_owner_id is not null;
alter table rally.activities
    add constraint activities_crm_owner_fkey foreign key (tenant_id, crm_owner_id)
        references rally.users on delete cascade,
    drop constraint activities_tenant_id_owner_id_fkey,
    drop constraint activities_time_zone_check,
    add constraint activities_time_zone_check
        check (length(time_zone) <= 64 and time_zone ~ '^[A-Za-z0-9_+/-]+$');
drop index rally.activities_start;
create index activities_start on rally.activities (tenant_id, start_at)
    where visibility = 'shared';
