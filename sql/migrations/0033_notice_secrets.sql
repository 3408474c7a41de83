-- Notices that carry a secret (a password reset or invitation link) and
-- notices to an address that is not a user's yet (an invitation).
set local role rally_owner;

-- The recipient when it is not the notice's user: an invitation is filed
-- under the user who sent it and goes to the invited address.  Checked as
-- one plain address, since it ends up in RCPT TO and the To header.
alter table rally.notices add column to_address text
    check (length(to_address) between 3 and 320 and to_address like '_%@_%'
        and to_address !~ '[[:space:][:cntrl:]<>(),;:"\[\]\\]');

-- A secret body is replaced once the notice is sent (daemon/job-notice.c)
-- or its link is used, and never shown to rally_web: the link must not
-- stay readable in the database, nor be read by the sender of an invitation.
alter table rally.notices add column body_secret boolean not null default false;

alter policy web_select on rally.notices
    using (tenant_id = rally.current_tenant() and user_id = rally.current_user_id()
        and not body_secret);
