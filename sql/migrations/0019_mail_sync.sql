-- SPDX-License-Identifier: ISC
-- Gmail sync, Google → CRM (sql/functions/mail-inbound.sql has the code).
--
-- synced_at: when a full sync last saw the message, so that the end of a
-- full sync removes what Gmail no longer has.  full_sync_history_id: the
-- mailbox's history id when the full sync began (users.getProfile), kept
-- so an interrupted full sync resumes from its list position and still
-- hands over to history from the right point.
set local role rally_owner;

alter table rally.mail_messages
    add column synced_at timestamptz not null default now();

alter table rally.sync_state
    add column full_sync_history_id numeric(20, 0) check (full_sync_history_id >= 0);
