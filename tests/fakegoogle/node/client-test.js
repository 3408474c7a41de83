// SPDX-License-Identifier: ISC
// Drives fakegoogle with Google's official Node.js client (googleapis + google-auth-library).
// Run by tests/test_node_client.py with FG_URL, FG_CODE, FG_VERIFIER, FG_CLIENT_ID,
// FG_CLIENT_SECRET, FG_REDIRECT in the environment and NODE_EXTRA_CA_CERTS set to the test CA.
// Prints one JSON object describing what each call returned; exits non-zero on any error.
'use strict';
const {google} = require('googleapis');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error('missing environment variable ' + name);
  return value;
};

function oauthClient() {
  return new google.auth.OAuth2({
    clientId: env('FG_CLIENT_ID'),
    clientSecret: env('FG_CLIENT_SECRET'),
    redirectUri: env('FG_REDIRECT'),
    // The library's only knob for the token endpoint: point it at the emulator.
    endpoints: {oauth2TokenUrl: env('FG_URL') + '/token', oauth2RevokeUrl: env('FG_URL') + '/revoke'},
  });
}

async function main() {
  const root = env('FG_URL') + '/';
  const out = {};
  const first = oauthClient();
  const {tokens} = await first.getToken({code: env('FG_CODE'), codeVerifier: env('FG_VERIFIER')});
  out.gotRefreshToken = Boolean(tokens.refresh_token);

  // A second client holding only the refresh token must refresh through the emulator.
  const auth = oauthClient();
  auth.setCredentials({refresh_token: tokens.refresh_token});
  const calendar = google.calendar({version: 'v3', auth, rootUrl: root});
  const gmail = google.gmail({version: 'v1', auth, rootUrl: root});

  const inserted = await calendar.events.insert({calendarId: 'primary', requestBody: {
    id: 'node0001abcd', summary: 'From node',
    start: {dateTime: '2024-06-03T09:00:00Z'}, end: {dateTime: '2024-06-03T10:00:00Z'},
    extendedProperties: {private: {rallyActivityId: '7'}}}});
  out.insertedId = inserted.data.id;
  const patched = await calendar.events.patch({calendarId: 'primary', eventId: inserted.data.id,
    requestBody: {summary: 'Patched from node'}, headers: {'If-Match': inserted.data.etag}});
  out.patchedSummary = patched.data.summary;
  const listed = await calendar.events.list({calendarId: 'primary', maxResults: 10});
  out.listedIds = listed.data.items.map((e) => e.id);
  out.hasSyncToken = Boolean(listed.data.nextSyncToken);
  const deleted = await calendar.events.delete({calendarId: 'primary', eventId: inserted.data.id});
  out.deleteStatus = deleted.status;
  const changes = await calendar.events.list({calendarId: 'primary', syncToken: listed.data.nextSyncToken});
  out.changes = changes.data.items.map((e) => [e.id, e.status]);

  const raw = Buffer.from('To: bob@example.com\r\nSubject: Hello from node\r\n' +
    'Message-ID: <node-1@rally.test>\r\n\r\nBody ünïcödé\r\n').toString('base64url');
  const sent = await gmail.users.messages.send({userId: 'me', requestBody: {raw}});
  out.sentLabels = sent.data.labelIds;
  const list = await gmail.users.messages.list({userId: 'me', q: 'rfc822msgid:<node-1@rally.test>'});
  out.listIds = (list.data.messages || []).map((m) => m.id);
  const full = await gmail.users.messages.get({userId: 'me', id: sent.data.id, format: 'full'});
  out.subject = full.data.payload.headers.find((h) => h.name === 'Subject').value;
  out.body = Buffer.from(full.data.payload.body.data, 'base64url').toString('utf8');
  const modified = await gmail.users.messages.modify({userId: 'me', id: sent.data.id,
    requestBody: {addLabelIds: ['STARRED']}});
  out.modifiedLabels = modified.data.labelIds;
  try {
    await gmail.users.messages.get({userId: 'me', id: 'doesnotexist'});
    out.missing = 'no error';
  } catch (err) {
    out.missing = err.status || (err.response && err.response.status);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  process.stderr.write('node client error: ' + (err.stack || err) + '\n');
  if (err.response) process.stderr.write(JSON.stringify(err.response.data) + '\n');
  process.exit(1);
});
