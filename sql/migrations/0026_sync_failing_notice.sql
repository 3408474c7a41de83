-- SPDX-License-Identifier: ISC
-- When the user was last told that a sync of theirs keeps failing, so that
-- each stretch of failures gets one notice (sql/functions/notices.sql).
set local role rally_owner;

alter table rally.sync_state add column failing_notice_at timestamptz;
