-- SPDX-License-Identifier: ISC
-- When the mailbox was last compared, id by id, with Gmail's listing
-- (daemon/job-mailreconcile.c), so that the scheduler runs the comparison
-- every mail.reconcile_interval.
set local role rally_owner;

alter table rally.sync_state add column last_reconcile_at timestamptz;

-- The scheduler's function takes the reconcile interval now
-- (sql/functions/mail-inbound.sql): the older form goes.
drop function if exists rally.mail_queue_periodic(int, boolean);
