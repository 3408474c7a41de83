-- SPDX-License-Identifier: ISC
-- Which series an activity is an exception of is the daemon's to say: it
-- links an exception to its series from what Google sent, in the same
-- connection, and rally.cgi never writes these columns.  A web session
-- that could write recurring_activity_id could name a colleague's private
-- activity: the reference check would accept it (it checks the tenant and
-- the id, as the foreign key did), which tells whether that id exists;
-- the session's lock on the row would hold up the colleague's sync; and
-- the cascade from that series would delete the session's activity with
-- no deletion pushed to Google.
set local role rally_owner;

revoke insert (recurring_activity_id, original_start_at, original_start_date)
    on rally.activities from rally_web;
