-- Gmail, two-way: synced threads and messages, the CRM's outbox, and the
-- label changes users make in the CRM.
set local role rally_owner;

create table rally.mail_threads (
	tenant_id uuid not null,
	id uuid not null default gen_random_uuid(),
	user_id uuid not null,
	connection_id uuid not null,
	gmail_thread_id text not null check (length(gmail_thread_id) between 1 and 256),
	subject text check (length(subject) <= 4096),
	snippet text check (length(snippet) <= 1024),
	message_count int not null default 0 check (message_count >= 0),
	last_message_at timestamptz,
	visibility text not null default 'private' check (visibility in ('private', 'shared')),
	created_at timestamptz not null default now(),
	updated_at timestamptz not null default now(),
	primary key (tenant_id, id),
	unique (tenant_id, connection_id, gmail_thread_id),
	-- For the foreign keys that keep a message or label change on its
	-- thread's connection.
	unique (tenant_id, id, connection_id),
	foreign key (tenant_id, user_id) references rally.users on delete cascade,
	foreign key (tenant_id, connection_id, user_id)
	    references rally.google_connections (tenant_id, id, user_id) on delete cascade
);
create index mail_threads_user on rally.mail_threads (tenant_id, user_id, last_message_at);

create table rally.mail_messages (
	tenant_id uuid not null,
	id uuid not null default gen_random_uuid(),
	thread_id uuid not null,
	user_id uuid not null,
	connection_id uuid not null,
	gmail_id text not null check (length(gmail_id) between 1 and 256),
	-- RFC 5322 header values, decoded to UTF-8.
	rfc822_message_id text check (length(rfc822_message_id) <= 998),
	in_reply_to text check (length(in_reply_to) <= 998),
	references_header text check (length(references_header) <= 65536),
	from_addr text check (length(from_addr) <= 2048),
	reply_to text check (length(reply_to) <= 2048),
	to_addrs text[] not null default '{}',
	cc_addrs text[] not null default '{}',
	bcc_addrs text[] not null default '{}',
	subject text check (length(subject) <= 4096),
	snippet text check (length(snippet) <= 1024),
	body_text text,
	body_html text,
	label_ids text[] not null default '{}',
	internal_date timestamptz,
	gmail_history_id numeric(20, 0) check (gmail_history_id >= 0),
	size_estimate int check (size_estimate >= 0),
	-- [{"filename": ..., "mimeType": ..., "size": ..., "attachmentId": ...}]:
	-- metadata only, the content stays at Google.
	attachments jsonb not null default '[]' check (jsonb_typeof(attachments) = 'array'),
	created_at timestamptz not null default now(),
	updated_at timestamptz not null default now(),
	primary key (tenant_id, id),
	unique (tenant_id, connection_id, gmail_id),
	unique (tenant_id, id, connection_id),
	foreign key (tenant_id, thread_id, connection_id)
	    references rally.mail_threads (tenant_id, id, connection_id) on delete cascade,
	foreign key (tenant_id, connection_id, user_id)
	    references rally.google_connections (tenant_id, id, user_id) on delete cascade
);
create index mail_messages_thread on rally.mail_messages (tenant_id, thread_id, internal_date);
create index mail_messages_rfc822
    on rally.mail_messages (tenant_id, connection_id, rfc822_message_id);

-- Messages the CRM sends.  The Message-ID is generated when the row is
-- queued, so after a crash in 'sending' the daemon looks it up in Sent
-- (rfc822msgid:) before it would send again: exactly once.
create table rally.mail_outbox (
	tenant_id uuid not null,
	id uuid not null default gen_random_uuid(),
	user_id uuid not null,
	connection_id uuid not null,
	-- The thread replied to, if any.
	thread_id uuid,
	gmail_thread_id text check (length(gmail_thread_id) <= 256),
	message_id text not null check (message_id ~ '^<[^<>@[:space:]]+@[^<>@[:space:]]+>$'
	    and length(message_id) <= 998),
	in_reply_to text check (length(in_reply_to) <= 998),
	references_header text check (length(references_header) <= 65536),
	from_addr text not null check (length(from_addr) between 3 and 2048),
	to_addrs text[] not null default '{}',
	cc_addrs text[] not null default '{}',
	bcc_addrs text[] not null default '{}',
	subject text not null default '' check (length(subject) <= 4096),
	body_text text not null default '' check (length(body_text) <= 10485760),
	body_html text check (length(body_html) <= 10485760),
	state text not null default 'queued' check (state in ('queued', 'sending', 'sent', 'failed')),
	attempts int not null default 0 check (attempts >= 0),
	last_error text check (length(last_error) <= 2000),
	gmail_message_id text check (length(gmail_message_id) <= 256),
	queued_at timestamptz not null default now(),
	sending_at timestamptz,
	sent_at timestamptz,
	primary key (tenant_id, id),
	unique (tenant_id, message_id),
	foreign key (tenant_id, user_id) references rally.users on delete cascade,
	foreign key (tenant_id, connection_id, user_id)
	    references rally.google_connections (tenant_id, id, user_id) on delete cascade,
	foreign key (tenant_id, thread_id, connection_id)
	    references rally.mail_threads (tenant_id, id, connection_id) on delete set null (thread_id),
	check (cardinality(to_addrs) + cardinality(cc_addrs) + cardinality(bcc_addrs) between 1 and 500),
	check (state <> 'sent' or (gmail_message_id is not null and sent_at is not null))
);
create index mail_outbox_due on rally.mail_outbox (tenant_id, connection_id)
    where state in ('queued', 'sending');

-- Read/unread/archive/star/trash asked for in the CRM, applied at Gmail by
-- the daemon (messages.modify, trash, untrash), on a message or a thread.
create table rally.mail_label_ops (
	tenant_id uuid not null,
	id bigint generated always as identity,
	user_id uuid not null,
	connection_id uuid not null,
	message_id uuid,
	thread_id uuid,
	op text not null check (op in ('read', 'unread', 'archive', 'unarchive',
	    'star', 'unstar', 'trash', 'untrash')),
	state text not null default 'pending' check (state in ('pending', 'done', 'failed')),
	attempts int not null default 0 check (attempts >= 0),
	last_error text check (length(last_error) <= 2000),
	requested_at timestamptz not null default now(),
	done_at timestamptz,
	primary key (tenant_id, id),
	foreign key (tenant_id, user_id) references rally.users on delete cascade,
	foreign key (tenant_id, connection_id, user_id)
	    references rally.google_connections (tenant_id, id, user_id) on delete cascade,
	foreign key (tenant_id, message_id, connection_id)
	    references rally.mail_messages (tenant_id, id, connection_id) on delete cascade,
	foreign key (tenant_id, thread_id, connection_id)
	    references rally.mail_threads (tenant_id, id, connection_id) on delete cascade,
	check ((message_id is null) <> (thread_id is null))
);
create index mail_label_ops_pending on rally.mail_label_ops (tenant_id, connection_id)
    where state = 'pending';

select rally.secure_table('rally.mail_threads');
select rally.secure_table('rally.mail_messages');
select rally.secure_table('rally.mail_outbox');
select rally.secure_table('rally.mail_label_ops');

grant select, insert, update, delete on rally.mail_threads, rally.mail_messages,
    rally.mail_outbox, rally.mail_label_ops to rally_daemon;

-- rally_web reads the user's own threads and the tenant's shared ones; the
-- owner shares or unshares a thread.  Messages follow their thread.
grant select on rally.mail_threads to rally_web;
grant update (visibility, updated_at) on rally.mail_threads to rally_web;
create policy web_select on rally.mail_threads for select to rally_web
    using (tenant_id = rally.current_tenant()
        and (visibility = 'shared' or user_id = rally.current_user_id()));
create policy web_update on rally.mail_threads for update to rally_web
    using (tenant_id = rally.current_tenant() and user_id = rally.current_user_id())
    with check (tenant_id = rally.current_tenant() and user_id = rally.current_user_id());

grant select on rally.mail_messages to rally_web;
create policy web_select on rally.mail_messages for select to rally_web
    using (tenant_id = rally.current_tenant()
        and (user_id = rally.current_user_id() or exists (
            select 1 from rally.mail_threads t
            where t.tenant_id = mail_messages.tenant_id and t.id = mail_messages.thread_id
                and t.visibility = 'shared')));

-- A user queues mail from their own connection, sees their outbox, and
-- may cancel what has not started sending.
grant select on rally.mail_outbox to rally_web;
grant insert (tenant_id, id, user_id, connection_id, thread_id, gmail_thread_id,
    message_id, in_reply_to, references_header, from_addr, to_addrs, cc_addrs,
    bcc_addrs, subject, body_text, body_html)
    on rally.mail_outbox to rally_web;
grant delete on rally.mail_outbox to rally_web;
create policy web_select on rally.mail_outbox for select to rally_web
    using (tenant_id = rally.current_tenant() and user_id = rally.current_user_id());
create policy web_insert on rally.mail_outbox for insert to rally_web
    with check (tenant_id = rally.current_tenant() and user_id = rally.current_user_id());
create policy web_delete on rally.mail_outbox for delete to rally_web
    using (tenant_id = rally.current_tenant() and user_id = rally.current_user_id()
        and state = 'queued');

grant select on rally.mail_label_ops to rally_web;
grant insert (tenant_id, user_id, connection_id, message_id, thread_id, op)
    on rally.mail_label_ops to rally_web;
create policy web_select on rally.mail_label_ops for select to rally_web
    using (tenant_id = rally.current_tenant() and user_id = rally.current_user_id());
create policy web_insert on rally.mail_label_ops for insert to rally_web
    with check (tenant_id = rally.current_tenant() and user_id = rally.current_user_id());
