-- SPDX-License-Identifier: ISC
-- The dashboard's two lists that no index served (cgi/page-dashboard.c):
-- all-day activities of the next seven days (activities_start covers only
-- timed ones, start_at being NULL for them), and the team's shared
-- conversations, newest first (mail_threads_user is per user).  Both are
-- partial, so they cost nothing for the rows they leave out.
set local role rally_owner;

create index activities_tenant_start_date on rally.activities (tenant_id, start_date)
    where start_date is not null;
create index mail_threads_shared_recent on rally.mail_threads (tenant_id, last_message_at)
    where visibility = 'shared';
