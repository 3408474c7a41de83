-- SPDX-License-Identifier: ISC
-- Files sent with an outbox message (daemon/job-mailsend.c composes them
-- into multipart/mixed).  The web tier attaches them to its own user's
-- queued rows, in the transaction that queues the row; the daemon drops
-- the bytes once Gmail has the message (rally.mail_outbox_end) and keeps
-- the name, type and size.  Limits: Gmail takes 25 MB of attachments a
-- message (35 MB of raw message, after base64), so each file and all of
-- one row's together at most 25,000,000 bytes, at most 50 files; the
-- sum and the count are checked by rally.mail_outbox_attachment_check
-- (sql/functions/mail-outbound.sql).
set local role rally_owner;

-- The attachment's user must be its outbox row's user: a key to point at.
alter table rally.mail_outbox add unique (tenant_id, id, user_id);

create table rally.mail_outbox_attachments (
	tenant_id uuid not null,
	id uuid not null default gen_random_uuid(),
	outbox_id uuid not null,
	user_id uuid not null,
	position int not null default 0 check (position between 0 and 49),
	filename text not null check (length(filename) between 1 and 255
	    and octet_length(filename) <= 1020 and filename !~ '[[:cntrl:]]'),
	content_type text not null default 'application/octet-stream'
	    check (length(content_type) <= 255
	        and content_type ~ '^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$'),
	size bigint not null default 0 check (size between 0 and 25000000),
	data bytea check (octet_length(data) <= 25000000),
	created_at timestamptz not null default now(),
	primary key (tenant_id, id),
	foreign key (tenant_id, user_id) references rally.users on delete cascade,
	foreign key (tenant_id, outbox_id, user_id)
	    references rally.mail_outbox (tenant_id, id, user_id) on delete cascade
);
create index mail_outbox_attachments_outbox
    on rally.mail_outbox_attachments (tenant_id, outbox_id, position);

select rally.secure_table('rally.mail_outbox_attachments');
grant select, insert, update, delete on rally.mail_outbox_attachments to rally_daemon;

-- rally_web attaches files to its user's own queued rows, reads back what
-- it attached (never the bytes), and may remove them while queued.
grant select (tenant_id, id, outbox_id, user_id, position, filename, content_type, size,
    created_at) on rally.mail_outbox_attachments to rally_web;
grant insert (tenant_id, id, outbox_id, user_id, position, filename, content_type, data)
    on rally.mail_outbox_attachments to rally_web;
grant delete on rally.mail_outbox_attachments to rally_web;
create policy web_select on rally.mail_outbox_attachments for select to rally_web
    using (tenant_id = rally.current_tenant() and user_id = rally.current_user_id());
create policy web_insert on rally.mail_outbox_attachments for insert to rally_web
    with check (tenant_id = rally.current_tenant() and user_id = rally.current_user_id()
        and exists (select 1 from rally.mail_outbox o
            where o.tenant_id = mail_outbox_attachments.tenant_id
                and o.id = mail_outbox_attachments.outbox_id
                and o.user_id = rally.current_user_id() and o.state = 'queued'));
create policy web_delete on rally.mail_outbox_attachments for delete to rally_web
    using (tenant_id = rally.current_tenant() and user_id = rally.current_user_id()
        and exists (select 1 from rally.mail_outbox o
            where o.tenant_id = mail_outbox_attachments.tenant_id
                and o.id = mail_outbox_attachments.outbox_id and o.state = 'queued'));
