// SPDX-License-Identifier: ISC
// bench/node-calendar-sync.js: the peer bench/calendar --compare-node measures Rally's first
// full Calendar sync against. A small Node.js program doing the same job with Google's official
// client (googleapis) and node-postgres (pg): list every event of the account (singleEvents
// false, 2500 a page, pageToken until nextSyncToken) and upsert each page into a plain table with
// ONE statement per page; the last page's statement also stores the sync token.
//
// Environment: FG_URL (the emulator's origin), FG_ACCESS_TOKEN (a Calendar access token),
// NODE_EXTRA_CA_CERTS (the emulator's CA), PGHOST (socket directory), PGPORT, PGDATABASE,
// PGUSER. Installed and run by bench/calendar; the modules are never installed in the tree.
//
// Protocol on stdout/stdin, so that the caller can read this process's CPU and its backend's
// at the right moments: after loading the modules, connecting and creating the tables it prints
// "ready" and waits for a line on stdin; then it syncs, prints one JSON line
// {"pages","events","rows","wall_seconds"} (wall: first request to last commit) and waits for
// stdin to close before disconnecting and exiting.
'use strict';
const {run} = require('./node-peer');

const DDL = `
CREATE TABLE IF NOT EXISTS node_events (
  id text PRIMARY KEY,
  status text,
  summary text,
  description text,
  location text,
  start_at timestamptz,
  end_at timestamptz,
  start_date date,
  end_date date,
  time_zone text,
  recurring_event_id text,
  recurrence text[],
  updated timestamptz,
  etag text,
  raw jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS node_sync_state (calendar text PRIMARY KEY, sync_token text NOT NULL)`;

// One statement per page: the page's items as one jsonb parameter ($1), the sync token ($2, null
// but on the last page).
const UPSERT = `
WITH token AS (
  INSERT INTO node_sync_state (calendar, sync_token) SELECT 'primary', $2::text
  WHERE $2::text IS NOT NULL
  ON CONFLICT (calendar) DO UPDATE SET sync_token = excluded.sync_token)
INSERT INTO node_events (id, status, summary, description, location, start_at, end_at,
                         start_date, end_date, time_zone, recurring_event_id, recurrence,
                         updated, etag, raw)
SELECT e.id, e.status, e.summary, e.description, e.location,
       (e.start->>'dateTime')::timestamptz, (e."end"->>'dateTime')::timestamptz,
       (e.start->>'date')::date, (e."end"->>'date')::date, e.start->>'timeZone',
       e."recurringEventId", e.recurrence, e.updated, e.etag, r.raw
FROM jsonb_array_elements($1::jsonb) AS r(raw),
     jsonb_to_record(r.raw) AS e(id text, status text, summary text, description text,
                                 location text, start jsonb, "end" jsonb,
                                 "recurringEventId" text, recurrence text[],
                                 updated timestamptz, etag text)
ON CONFLICT (id) DO UPDATE SET
  status = excluded.status, summary = excluded.summary, description = excluded.description,
  location = excluded.location, start_at = excluded.start_at, end_at = excluded.end_at,
  start_date = excluded.start_date, end_date = excluded.end_date,
  time_zone = excluded.time_zone, recurring_event_id = excluded.recurring_event_id,
  recurrence = excluded.recurrence, updated = excluded.updated, etag = excluded.etag,
  raw = excluded.raw`;

run('node-calendar-sync', DDL, (google, options) => google.calendar({version: 'v3', ...options}),
  async (calendar, db) => {
    let pageToken, pages = 0, events = 0, rows = 0;
    for (;;) {
      const {data} = await calendar.events.list({calendarId: 'primary', maxResults: 2500,
        singleEvents: false, pageToken});
      const items = data.items || [];
      const r = await db.query(UPSERT, [JSON.stringify(items), data.nextSyncToken || null]);
      pages += 1;
      events += items.length;
      rows += r.rowCount;
      if (!data.nextPageToken) {
        if (!data.nextSyncToken) throw new Error('last page without nextSyncToken');
        return {pages, events, rows};
      }
      pageToken = data.nextPageToken;
    }
  });
