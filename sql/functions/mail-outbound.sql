-- SPDX-License-Identifier: ISC
-- Gmail, CRM → Google: the mail a user sends from the CRM (rally.mail_outbox,
-- by daemon/job-mailsend.c) and the label changes a user asks for in the CRM
-- (rally.mail_label_ops: read, unread, archive, star, trash and their
-- opposites), applied at Gmail by daemon/job-maillabel.c.
-- docs/mail-sync.md, "Organize", has the protocol.
set local role rally_owner;

-- What each op does to a message's labels at Gmail (and, at once, to the
-- CRM's copy); trash and untrash are calls of their own at Gmail.
create or replace function rally.mail_op_labels(p_op text, out add_ids text[],
    out remove_ids text[])
language sql immutable parallel safe
as $$
	select case p_op when 'unread' then '{UNREAD}' when 'unarchive' then '{INBOX}'
	        when 'star' then '{STARRED}' when 'trash' then '{TRASH}' else '{}' end::text[],
	    case p_op when 'read' then '{UNREAD}' when 'archive' then '{INBOX}'
	        when 'unstar' then '{STARRED}' when 'untrash' then '{TRASH}' else '{}' end::text[]
$$;

-- A new op queues the connection's maillabel job (one per statement and
-- connection; the dedupe key folds the rest into the pending one).
create or replace function rally.mail_label_ops_queue() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	perform rally.job_enqueue(n.tenant_id, 'maillabel', n.connection_id::text,
	    jsonb_build_object('connection_id', n.connection_id))
	from (select distinct tenant_id, connection_id from new_ops) n;
	return null;
end
$$;
create or replace trigger queue_label_ops after insert on rally.mail_label_ops
    referencing new table as new_ops
    for each statement execute function rally.mail_label_ops_queue();

-- The connection's pending ops, oldest first, each with the Gmail ids it
-- reaches (the message, or every message of the thread).  Only ops of the
-- connection's own user, on a connection with mail on: a row the web tier
-- wrote for anyone else's mailbox reaches nothing.
create or replace function rally.mail_label_ops_due(p_tenant uuid, p_conn uuid, p_limit int)
returns table (id bigint, op text, gmail_ids text[])
language sql stable
as $$
	select o.id, o.op, array(select m.gmail_id from rally.mail_messages m
	        where m.tenant_id = o.tenant_id and m.connection_id = o.connection_id
	            and (m.id = o.message_id or m.thread_id = o.thread_id)
	        order by m.gmail_id)
	from rally.mail_label_ops o
	join rally.google_connections c on c.tenant_id = o.tenant_id and c.id = o.connection_id
	where o.tenant_id = p_tenant and o.connection_id = p_conn and o.state = 'pending'
	    and c.user_id = o.user_id and c.status = 'active' and c.mail_enabled
	order by o.id
	limit p_limit
$$;

-- An op's end: done (Gmail took it: the CRM's copy of the messages gets
-- the change at once, and history confirms it later), or failed with a
-- reason, or still pending after a failure worth retrying (attempts
-- counted).  The copy's history id stays: the record of this change is
-- newer and wins when history brings it.
create or replace function rally.mail_label_op_end(p_tenant uuid, p_conn uuid, p_id bigint,
    p_state text, p_error text)
returns void
language plpgsql
as $$
declare
	o rally.mail_label_ops;
	l record;
	v_threads uuid[];
begin
	update rally.mail_label_ops set state = p_state, attempts = attempts + 1,
	    last_error = left(p_error, 2000),
	    done_at = case when p_state = 'pending' then null else now() end
	where tenant_id = p_tenant and connection_id = p_conn and id = p_id and state = 'pending'
	returning * into o;
	if not found or p_state <> 'done' then
		return;
	end if;
	select * into l from rally.mail_op_labels(o.op);
	with w as (
		update rally.mail_messages m
		set label_ids = array(select x from unnest(m.label_ids) x
		        where not x = any (l.remove_ids)
		    union select unnest(l.add_ids) order by 1),
		    updated_at = now()
		where m.tenant_id = p_tenant and m.connection_id = p_conn
		    and (m.id = o.message_id or m.thread_id = o.thread_id)
		returning m.thread_id
	)
	-- The inbox lists threads by their summary: it follows at once.
	select coalesce(array_agg(distinct w.thread_id), '{}') into v_threads from w;
	if cardinality(v_threads) > 0 then
		perform rally.mail_threads_refresh(p_tenant, v_threads);
	end if;
end
$$;

grant execute on function rally.mail_op_labels(text),
    rally.mail_label_ops_due(uuid, uuid, int),
    rally.mail_label_op_end(uuid, uuid, bigint, text, text)
    to rally_daemon;

-- Mail the CRM sends (rally.mail_outbox), by daemon/job-mailsend.c.  A new
-- row queues the connection's mailsend job.
create or replace function rally.mail_outbox_queue() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
	perform rally.job_enqueue(n.tenant_id, 'mailsend', n.connection_id::text,
	    jsonb_build_object('connection_id', n.connection_id))
	from (select distinct tenant_id, connection_id from new_rows) n;
	return null;
end
$$;
create or replace trigger queue_outbox after insert on rally.mail_outbox
    referencing new table as new_rows
    for each statement execute function rally.mail_outbox_queue();

-- The connection's oldest message to send, as JSON for the daemon: one
-- in 'sending' first (a send whose answer was lost: the daemon looks it
-- up in Sent before sending again), then the oldest queued.  The Gmail
-- thread comes from the thread row, never from what the web tier wrote
-- beside it; the sender must be the connected account, and the row the
-- connection's own user's.
create or replace function rally.mail_outbox_next(p_tenant uuid, p_conn uuid)
returns jsonb
language sql stable
as $$
	select jsonb_build_object('id', o.id, 'state', o.state, 'message_id', o.message_id,
	    'in_reply_to', o.in_reply_to, 'references', o.references_header,
	    'from', o.from_addr, 'to', o.to_addrs, 'cc', o.cc_addrs, 'bcc', o.bcc_addrs,
	    'subject', o.subject, 'body_text', o.body_text, 'body_html', o.body_html,
	    'gmail_thread_id', t.gmail_thread_id, 'account', c.google_email,
	    'attempts', o.attempts,
	    'attachments', (select count(*) from rally.mail_outbox_attachments a
	        where a.tenant_id = o.tenant_id and a.outbox_id = o.id and a.user_id = o.user_id))
	from rally.mail_outbox o
	join rally.google_connections c on c.tenant_id = o.tenant_id and c.id = o.connection_id
	left join rally.mail_threads t on t.tenant_id = o.tenant_id and t.id = o.thread_id
	    and t.connection_id = o.connection_id
	where o.tenant_id = p_tenant and o.connection_id = p_conn
	    and o.state in ('queued', 'sending')
	    and c.user_id = o.user_id and c.status = 'active' and c.mail_enabled
	order by o.state = 'sending' desc, o.queued_at, o.id
	limit 1
$$;

-- The send is about to start: from now on a lost answer is looked up in
-- Sent, not sent again.
create or replace function rally.mail_outbox_sending(p_tenant uuid, p_conn uuid, p_id uuid)
returns boolean
language sql
as $$
	update rally.mail_outbox set state = 'sending', attempts = attempts + 1,
	    sending_at = now()
	where tenant_id = p_tenant and connection_id = p_conn and id = p_id
	    and state in ('queued', 'sending')
	returning true
$$;

-- The send's end: 'sent' with Gmail's message id, or 'failed' with the
-- reason (the CRM shows it; the user may queue the message again).
create or replace function rally.mail_outbox_end(p_tenant uuid, p_conn uuid, p_id uuid,
    p_state text, p_gmail_id text, p_error text)
returns void
language sql
as $$
	update rally.mail_outbox set state = p_state, gmail_message_id = p_gmail_id,
	    sent_at = case when p_state = 'sent' then now() end,
	    last_error = left(p_error, 2000)
	where tenant_id = p_tenant and connection_id = p_conn and id = p_id
	    and state in ('queued', 'sending');
	-- Gmail holds the files now: the bytes are the user's data and leave
	-- here; the name, type and size stay to show what was sent.
	update rally.mail_outbox_attachments a set data = null
	from rally.mail_outbox o
	where p_state = 'sent' and o.tenant_id = p_tenant and o.connection_id = p_conn
	    and o.id = p_id and o.state = 'sent'
	    and a.tenant_id = o.tenant_id and a.outbox_id = o.id and a.data is not null;
$$;

-- The files of an outbox row, in order, for the daemon to compose: only
-- the row's own user's, of the connection being sent from.  A file whose
-- bytes are gone (sent before) has data NULL: the daemon refuses the row.
create or replace function rally.mail_outbox_attachments_of(p_tenant uuid, p_conn uuid,
    p_id uuid)
returns table (filename text, content_type text, size bigint, data bytea)
language sql stable
as $$
	select a.filename, a.content_type, a.size, a.data
	from rally.mail_outbox o
	join rally.mail_outbox_attachments a on a.tenant_id = o.tenant_id
	    and a.outbox_id = o.id and a.user_id = o.user_id
	where o.tenant_id = p_tenant and o.connection_id = p_conn and o.id = p_id
	order by a.position, a.created_at, a.id
$$;

-- What one outbox row may carry (migration 0056): at most 50 files and
-- 25,000,000 bytes together, Gmail's attachment limit.  The row is locked
-- so that two transactions adding files cannot both pass the sum; the
-- size column is the daemon's, whatever the writer said.
create or replace function rally.mail_outbox_attachment_check() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
	n bigint;
	total bigint;
begin
	new.size := coalesce(octet_length(new.data), 0);
	perform 1 from rally.mail_outbox o
	where o.tenant_id = new.tenant_id and o.id = new.outbox_id for update;
	select count(*), coalesce(sum(a.size), 0) into n, total
	from rally.mail_outbox_attachments a
	where a.tenant_id = new.tenant_id and a.outbox_id = new.outbox_id;
	if n >= 50 or total + new.size > 25000000 then
		raise exception 'an outbox message carries at most 50 files and 25000000 bytes'
		    using errcode = 'check_violation';
	end if;
	return new;
end
$$;
create or replace trigger attachment_check before insert on rally.mail_outbox_attachments
    for each row execute function rally.mail_outbox_attachment_check();

grant execute on function rally.mail_outbox_next(uuid, uuid),
    rally.mail_outbox_sending(uuid, uuid, uuid),
    rally.mail_outbox_end(uuid, uuid, uuid, text, text, text),
    rally.mail_outbox_attachments_of(uuid, uuid, uuid)
    to rally_daemon;
