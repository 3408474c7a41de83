-- A job kind is named after its handler's file (daemon/job-<kind>.c), so
-- the name says where to look: three kinds are renamed, with the jobs of
-- theirs already queued.
set local role rally_owner;

update rally.jobs set kind = case kind
    when 'jobs.prune' then 'prune'
    when 'google.probe' then 'google-probe'
    when 'token_revoke' then 'token-revoke' end
where kind in ('jobs.prune', 'google.probe', 'token_revoke');
