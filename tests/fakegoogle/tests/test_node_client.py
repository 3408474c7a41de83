# SPDX-License-Identifier: ISC
"""Google's official Node.js client (googleapis, google-auth-library) against the emulator.

npm packages are installed here on first run (node_modules is not committed). Missing node or
npm is a failure, not a skip: this test is the proof that real client code accepts what the
emulator sends."""

import json
import os
import shutil
import subprocess

from conftest import CAL, FG_DIR, GMAIL, REDIRECT, s256

NODE_DIR = FG_DIR / "node"


def _install():
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "node and npm are required for this test (apt-get install nodejs npm)"
    if not (NODE_DIR / "node_modules" / "googleapis").is_dir():
        subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True,
                       timeout=300)
    return node


def test_googleapis_node_client_calendar_and_gmail(fg):
    node = _install()
    fg.admin("POST", "accounts", {"email": "alice@example.com"})
    fg.client()
    verifier = "n" * 64
    code = fg.admin("POST", "authorize", {
        "client_id": "rally-client", "email": "alice@example.com", "scopes": [CAL, GMAIL],
        "redirect_uri": REDIRECT, "code_challenge": s256(verifier)})["code"]
    env = dict(os.environ, FG_URL=fg.base, FG_CODE=code, FG_VERIFIER=verifier,
               FG_CLIENT_ID="rally-client", FG_CLIENT_SECRET="s3cret", FG_REDIRECT=REDIRECT,
               NODE_EXTRA_CA_CERTS=fg.ca_file)
    proc = subprocess.run([node, str(NODE_DIR / "client-test.js")], env=env, cwd=NODE_DIR,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["gotRefreshToken"] is True
    assert out["insertedId"] == "node0001abcd"
    assert out["patchedSummary"] == "Patched from node"
    assert out["listedIds"] == ["node0001abcd"] and out["hasSyncToken"]
    assert out["deleteStatus"] == 204
    assert out["changes"] == [["node0001abcd", "cancelled"]]
    assert out["sentLabels"] == ["SENT"]
    assert len(out["listIds"]) == 1
    assert out["subject"] == "Hello from node" and out["body"].startswith("Body ünïcödé")
    assert set(out["modifiedLabels"]) == {"SENT", "STARRED"}
    assert out["missing"] == 404
    log = fg.admin("GET", "requests")["requests"]
    paths = {(e["method"], e["path"]) for e in log}
    assert ("POST", "/token") in paths
    assert ("PATCH", "/calendar/v3/calendars/primary/events/node0001abcd") in paths
