// SPDX-License-Identifier: ISC
// bench/node-gmail-sync.js: the peer bench/gmail --compare-node measures Rally's first full
// Gmail sync against. A small Node.js program doing the same job with Google's official client
// (googleapis) and node-postgres (pg): users.getProfile (the history id to hand over to), every
// id from messages.list (500 a page), each message fetched format=full 8 at a time (rallyd's
// pump keeps 8 in flight), its headers and text/plain and text/html bodies decoded here
// (base64url to UTF-8), and the messages upserted 100 at a time with ONE statement each; the
// last statement also stores the history id.
//
// Environment, protocol on stdout/stdin: as bench/node-calendar-sync.js (FG_ACCESS_TOKEN a
// Gmail token); the JSON line is {"pages", "messages", "batches", "wall_seconds"}.
'use strict';
const {run} = require('./node-peer');

const DDL = `
CREATE TABLE IF NOT EXISTS node_messages (
  id text PRIMARY KEY,
  thread_id text NOT NULL,
  history_id numeric,
  internal_date timestamptz,
  label_ids text[] NOT NULL DEFAULT '{}',
  snippet text,
  message_id text,
  subject text,
  from_addr text,
  to_addrs text,
  body_text text,
  body_html text
);
CREATE TABLE IF NOT EXISTS node_sync_state (mailbox text PRIMARY KEY, history_id numeric NOT NULL)`;

const UPSERT = `
WITH state AS (
  INSERT INTO node_sync_state (mailbox, history_id) SELECT 'me', $2::numeric
  WHERE $2::numeric IS NOT NULL
  ON CONFLICT (mailbox) DO UPDATE SET history_id = excluded.history_id)
INSERT INTO node_messages (id, thread_id, history_id, internal_date, label_ids, snippet,
                           message_id, subject, from_addr, to_addrs, body_text, body_html)
SELECT m.id, m.thread_id, m.history_id, to_timestamp(m.internal_date / 1000.0), m.label_ids,
       m.snippet, m.message_id, m.subject, m.from_addr, m.to_addrs, m.body_text, m.body_html
FROM jsonb_to_recordset($1::jsonb) AS m(id text, thread_id text, history_id numeric,
     internal_date bigint, label_ids text[], snippet text, message_id text, subject text,
     from_addr text, to_addrs text, body_text text, body_html text)
ON CONFLICT (id) DO UPDATE SET
  thread_id = excluded.thread_id, history_id = excluded.history_id,
  internal_date = excluded.internal_date, label_ids = excluded.label_ids,
  snippet = excluded.snippet, message_id = excluded.message_id, subject = excluded.subject,
  from_addr = excluded.from_addr, to_addrs = excluded.to_addrs,
  body_text = excluded.body_text, body_html = excluded.body_html
WHERE node_messages.history_id IS NULL OR node_messages.history_id <= excluded.history_id`;

const IN_FLIGHT = 8;
const BATCH = 100;

function bodies(part, out) {
  if (!part) return out;
  const type = (part.mimeType || '').toLowerCase();
  if (part.body && part.body.data && (type === 'text/plain' || type === 'text/html')) {
    const key = type === 'text/plain' ? 'body_text' : 'body_html';
    if (out[key] === null) out[key] = Buffer.from(part.body.data, 'base64url').toString('utf8');
  }
  for (const p of part.parts || []) bodies(p, out);
  return out;
}

function row(msg) {
  const headers = {};
  for (const h of (msg.payload && msg.payload.headers) || []) {
    const name = h.name.toLowerCase();
    if (!(name in headers)) headers[name] = h.value;
  }
  return Object.assign({
    id: msg.id, thread_id: msg.threadId, history_id: msg.historyId,
    internal_date: Number(msg.internalDate), label_ids: msg.labelIds || [],
    snippet: msg.snippet, message_id: headers['message-id'] || null,
    subject: headers.subject || null, from_addr: headers.from || null,
    to_addrs: headers.to || null,
  }, bodies(msg.payload, {body_text: null, body_html: null}));
}

run('node-gmail-sync', DDL, (google, options) => google.gmail({version: 'v1', ...options}),
  async (gmail, db) => {
    const profile = (await gmail.users.getProfile({userId: 'me'})).data;
    const ids = [];
    let pageToken, pages = 0;
    do {
      const {data} = await gmail.users.messages.list({userId: 'me', maxResults: 500, pageToken});
      for (const m of data.messages || []) ids.push(m.id);
      pages += 1;
      pageToken = data.nextPageToken;
    } while (pageToken);

    let next = 0, batches = 0, pending = [];
    const writes = [];
    const flush = (historyId) => {
      const rows = pending;
      pending = [];
      batches += 1;
      return db.query(UPSERT, [JSON.stringify(rows), historyId]);
    };
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++];
        const {data} = await gmail.users.messages.get({userId: 'me', id, format: 'full'});
        pending.push(row(data));
        if (pending.length >= BATCH) writes.push(flush(null));
      }
    };
    await Promise.all(Array.from({length: IN_FLIGHT}, worker));
    await Promise.all(writes);
    await flush(profile.historyId);
    return {pages, messages: ids.length, batches};
  });
