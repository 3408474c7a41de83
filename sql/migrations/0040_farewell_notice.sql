-- SPDX-License-Identifier: ISC
-- The notice that an account deletion is complete (sql/functions/
-- account-deletion.sql) is queued as the purge deletes the user's row, so
-- it cannot be filed under the user: it has no user, only the address it
-- goes to, and rallyd deletes it once sent (daemon/job-notice.c) or once
-- it could not be delivered in time (rally.farewell_notices_expire).
set local role rally_owner;

alter table rally.notices alter column user_id drop not null;
alter table rally.notices add constraint notices_user_or_address
    check (user_id is not null or (to_address is not null and body_secret));
create index notices_farewell on rally.notices (created_at) where user_id is null;
