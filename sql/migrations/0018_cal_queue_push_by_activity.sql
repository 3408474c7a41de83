-- SPDX-License-Identifier: ISC
-- calpush reads the connection from the activity (or its tombstone), so
-- the function that queues it takes the activity alone; the three-argument
-- form of 0010 goes (sql/functions/calendar-outbound.sql has the new one).
set local role rally_owner;

drop function rally.cal_queue_push(uuid, uuid, uuid);
