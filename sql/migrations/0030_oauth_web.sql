-- SPDX-License-Identifier: ISC
-- Connecting Google from the web front end (docs/cgi.md, "Connecting
-- Google"): rally.cgi starts an attempt and hands the code over through
-- rally.web_oauth_begin and rally.web_oauth_callback
-- (sql/functions/oauth.sql); rallyd's oauth-exchange job exchanges it and
-- records here how it ended, which rally.web_oauth_status shows the page
-- that polls.
set local role rally_owner;

alter table rally.oauth_pending
	add column outcome text check (outcome in ('connected', 'failed')),
	-- In words for the user who connects; never a token, a code or
	-- Google's raw error text.
	add column outcome_detail text check (length(outcome_detail) <= 500),
	add column connection_id uuid,
	add column finished_at timestamptz,
	add foreign key (tenant_id, connection_id) references rally.google_connections
	    on delete set null (connection_id),
	add check ((outcome is null) = (finished_at is null)),
	-- A code is single use: once the attempt ended it is gone.
	add check (outcome is null or code is null);

-- The page's poll reads how the attempt ended; the code and the verifier
-- stay unreadable.
grant select (outcome, outcome_detail, connection_id, finished_at)
    on rally.oauth_pending to rally_web;

-- The web tier starts and completes attempts only through the functions,
-- which check the caller's account and queue the exchange: written
-- directly, a code would reach no one (and nothing would check its state).
revoke insert, update on rally.oauth_pending from rally_web;

-- prune_batch gains a column (oauth_pending): its result type changes,
-- which create or replace cannot do (a new database has none yet: the
-- functions come after the migrations).  sql/functions/prune.sql defines it
-- again in the same run; a prune job in between fails and is retried.
drop function if exists rally.prune_batch(int, int);
