// SPDX-License-Identifier: ISC
// bench/node-peer.js: what the Node.js peers of --compare-node (node-calendar-sync.js,
// node-gmail-sync.js) share: the protocol with benchlib.node_peer on stdout/stdin, the
// database connection and the googleapis client from the environment. run(DDL, api, sync):
// connects (PGHOST, PGPORT, PGDATABASE, PGUSER), creates the tables, makes the client for api
// (google.calendar or google.gmail with FG_ACCESS_TOKEN against FG_URL), prints "ready", waits
// for a line, times `await sync(client, db)` (first request to last commit), prints its
// result with wall_seconds as one JSON line, and disconnects once stdin closes.
'use strict';
const readline = require('readline');
const {google} = require('googleapis');
const {Client} = require('pg');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error('missing environment variable ' + name);
  return value;
};

async function main(name, ddl, api, sync) {
  const lines = readline.createInterface({input: process.stdin})[Symbol.asyncIterator]();
  const db = new Client();
  await db.connect();
  await db.query(ddl);
  const auth = new google.auth.OAuth2();
  auth.setCredentials({access_token: env('FG_ACCESS_TOKEN')});
  const client = api(google, {auth, rootUrl: env('FG_URL') + '/'});
  process.stdout.write('ready\n');
  await lines.next();

  const t0 = process.hrtime.bigint();
  const result = await sync(client, db);
  result.wall_seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify(result) + '\n');
  while (!(await lines.next()).done) { /* until stdin closes */ }
  await db.end();
}

exports.run = (name, ddl, api, sync) => main(name, ddl, api, sync).catch((err) => {
  process.stderr.write(name + ': ' + (err.stack || err) + '\n');
  if (err.response) process.stderr.write(JSON.stringify(err.response.data) + '\n');
  process.exit(1);
});
