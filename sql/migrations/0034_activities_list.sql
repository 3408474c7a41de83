-- SPDX-License-Identifier: ISC
-- The web's list of activities (cgi/page-activities.c, docs/web.md,
-- "Activities") reads a user's own activities and the tenant's shared ones
-- in order of their start, a page at a time.  Timed ones come from
-- activities_owner_start and activities_start (0005, 0027); these two
-- indexes do the same for all-day ones, whose start is a date.
--
-- Partial on start_date, so a sync keeps them only for the all-day events
-- it brings; activities_start_date holds only shared ones, like
-- activities_start.
set local role rally_owner;

create index activities_owner_start_date on rally.activities
    (tenant_id, owner_id, start_date) where start_date is not null;
create index activities_start_date on rally.activities (tenant_id, start_date)
    where visibility = 'shared' and start_date is not null;
