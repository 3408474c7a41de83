-- A page of events is applied as a set (sql/functions/calendar-inbound.sql):
-- it links recurring exceptions to their series looking only at the page's
-- events, which for a series in the page needs its exceptions by the
-- series' event id.  The per-event apply of 0010 is gone.
set local role rally_owner;

create index activities_unlinked_exceptions on rally.activities
    (tenant_id, connection_id, recurring_event_id)
    where recurring_event_id is not null and recurring_activity_id is null;

drop function rally.cal_apply_event(uuid, uuid, uuid, jsonb);
