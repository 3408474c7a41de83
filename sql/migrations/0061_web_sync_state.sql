-- SPDX-License-Identifier: ISC
-- Where an activity stands with Google (sync_state) is the daemon's to say:
-- the CRM's edits set it through the track-local trigger
-- (sql/functions/calendar-outbound.sql), and rally.cgi only reads it.  A
-- web session that could write it could mark a row synced so its edit is
-- never sent, or take a row out of 'synced' so that its merge base is
-- guessed (docs/calendar-sync.md, "The base of a merge").
set local role rally_owner;

revoke insert (sync_state), update (sync_state) on rally.activities from rally_web;
