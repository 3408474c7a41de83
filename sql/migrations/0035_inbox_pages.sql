-- SPDX-License-Identifier: ISC
-- What the web inbox (cgi/page-inbox*.c, docs/web.md "Inbox") reads per
-- thread without looking at its messages, and the indexes that make each
-- of its views one keyset range scan.
--
-- label_ids: the union of the labels of the thread's messages (Inbox,
-- Starred, Sent, Trash, Unread are Gmail's INBOX, STARRED, SENT, TRASH,
-- UNREAD).  hidden: every message is in Trash or Spam, so the thread is
-- not in "All mail".  correspondents: the senders' names in the order
-- they first wrote, "me" for the connected account, at most four.  Kept
-- by rally.mail_threads_refresh (sql/functions/mail-inbound.sql) with the
-- other summary columns.
set local role rally_owner;

alter table rally.mail_threads
    add column label_ids text[] not null default '{}',
    add column hidden boolean not null default false,
    add column correspondents text[] not null default '{}'
        check (cardinality(correspondents) <= 4);

-- One index per view of the inbox page, each matching its ORDER BY
-- (newest first, id as the tie-break of the keyset), so that a page costs
-- the same whatever the size of the mailbox.  The predicates are the
-- literal ones the page's queries use: the planner matches them as
-- written.
create index mail_threads_inbox on rally.mail_threads
    (tenant_id, user_id, last_message_at desc, id desc) where 'INBOX' = any (label_ids);
create index mail_threads_starred on rally.mail_threads
    (tenant_id, user_id, last_message_at desc, id desc) where 'STARRED' = any (label_ids);
create index mail_threads_sent on rally.mail_threads
    (tenant_id, user_id, last_message_at desc, id desc) where 'SENT' = any (label_ids);
create index mail_threads_trash on rally.mail_threads
    (tenant_id, user_id, last_message_at desc, id desc) where 'TRASH' = any (label_ids);
create index mail_threads_all on rally.mail_threads
    (tenant_id, user_id, last_message_at desc, id desc) where not hidden;
create index mail_threads_shared on rally.mail_threads
    (tenant_id, last_message_at desc, id desc) where visibility = 'shared' and not hidden;

-- The thread page's outbox rows and label operations, the outbox page.
create index mail_outbox_thread on rally.mail_outbox (tenant_id, thread_id, queued_at);
create index mail_outbox_user on rally.mail_outbox (tenant_id, user_id, queued_at desc, id desc);
create index mail_label_ops_thread on rally.mail_label_ops (tenant_id, thread_id, id);

-- The threads already stored get their summary once here; from now on the
-- refresh keeps it.  (A one-off backfill, not code: the function that
-- keeps the columns lives in sql/functions and is applied after this.)
update rally.mail_threads t set label_ids = s.label_ids, hidden = s.hidden,
    correspondents = s.names
from (select x.tenant_id, x.id,
        coalesce((select array_agg(distinct l order by l) from rally.mail_messages m,
            unnest(m.label_ids) l where m.tenant_id = x.tenant_id and m.thread_id = x.id),
            '{}') label_ids,
        coalesce((select bool_and(m.label_ids && '{TRASH,SPAM}') from rally.mail_messages m
            where m.tenant_id = x.tenant_id and m.thread_id = x.id), false) hidden,
        coalesce((select array_agg(n.name order by n.first_at) from (
            select case when lower(coalesce(substring(m.from_addr from '<([^<>]*)>\s*$'),
                    m.from_addr)) = lower(c.google_email) then 'me'
                else coalesce(nullif(btrim(substring(m.from_addr from '^(.*)<[^<>]*>\s*$'),
                    ' "'), ''), btrim(m.from_addr)) end name,
                min(m.internal_date) first_at
            from rally.mail_messages m
            join rally.google_connections c on c.tenant_id = m.tenant_id
                and c.id = m.connection_id
            where m.tenant_id = x.tenant_id and m.thread_id = x.id and m.from_addr is not null
            group by 1 order by 2 nulls last limit 4) n), '{}') names
    from rally.mail_threads x) s
where t.tenant_id = s.tenant_id and t.id = s.id;
