-- SPDX-License-Identifier: ISC
-- Whether an account's address is known to reach its holder.  Sign-up
-- does not check it, so anyone may open workspaces under someone else's
-- address; the sign-in lookup answers at most 20 accounts per address
-- (each one an argon2id verification), the oldest first, so twenty such
-- workspaces locked the holder out of any account they got later, the
-- one a colleague invited them to included.  An invitation accepted or a
-- reset link used proves the address (the link was mailed to it), and so
-- does an operator's `rallyctl user create`: the lookups take those
-- accounts first (sql/functions/accounts.sql).  An address changed is no
-- longer confirmed.
set local role rally_owner;

alter table rally.users add column email_confirmed_at timestamptz;

-- Before this column: a workspace's later members joined by invitation
-- or were created by an operator; its first user signed up.
update rally.users u set email_confirmed_at = u.created_at
where exists (select 1 from rally.users f
    where f.tenant_id = u.tenant_id and f.created_at < u.created_at);
