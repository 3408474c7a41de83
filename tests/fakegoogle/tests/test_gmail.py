# SPDX-License-Identifier: ISC
"""Gmail v1: profile, labels, list and q, get formats built from RFC 5322 bytes, attachments,
history, send and threading, label changes, batch, watch with Pub/Sub push."""

import base64
import json
import time

from conftest import FULL_MAIL, GMAIL

U = "/gmail/v1/users/me"
KOI8 = ("From: =?koi8-r?b?98HT0Q==?= <vasya@example.com>\r\nTo: alice@example.com\r\n"
        "Subject: =?iso-8859-1?q?Gr=FC=DFe?=\r\nMessage-ID: <koi8@example.com>\r\n"
        "Date: Mon, 03 Jun 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=b1\r\n\r\n"
        "--b1\r\nContent-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        ).encode() + "Привет".encode("koi8-r") + (
        "\r\n--b1\r\nContent-Type: application/pdf\r\n"
        "Content-Disposition: attachment; filename=\"offer.pdf\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n").encode()


def b64(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _deliver(fg, raw=None, labels=("INBOX", "UNREAD"), **extra):
    raw = raw or (b"From: bob@example.com\r\nTo: alice@example.com\r\nSubject: hi\r\n"
                  b"Message-ID: <m%d@example.com>\r\n\r\nhello\r\n" % time.monotonic_ns())
    body = dict({"raw": b64(raw), "labelIds": list(labels)}, **extra)
    return fg.admin("POST", "accounts/alice@example.com/messages", body)


def test_profile_and_labels(fg):
    token = fg.token()
    profile = fg.api("GET", U + "/profile", token).json()
    assert profile["emailAddress"] == "alice@example.com" and profile["historyId"].isdigit()
    labels = {l["id"]: l for l in fg.api("GET", U + "/labels", token).json()["labels"]}
    assert {"INBOX", "SENT", "TRASH", "SPAM", "UNREAD", "CATEGORY_SOCIAL"} <= set(labels)
    assert labels["INBOX"]["type"] == "system"
    created = fg.api("POST", U + "/labels", token, {"name": "Rally/Customers"}).json()
    assert created["type"] == "user" and created["id"].startswith("Label_")
    assert fg.api("POST", U + "/labels", token, {"name": "rally/customers"}).status == 409
    _deliver(fg)
    inbox = fg.api("GET", U + "/labels/INBOX", token).json()
    assert inbox["messagesTotal"] == 1 and inbox["messagesUnread"] == 1
    assert fg.api("GET", U + "/labels/Label_99", token).status == 404


def test_list_filters_labels_spam_trash_and_paginates(fg):
    token = fg.token()
    fg.admin("POST", "accounts/alice@example.com/seed", {"messages": 60})
    fg.admin("POST", "settings", {"pageEmptyEvery": 3})
    ids, page_token, sizes = [], None, []
    while True:
        params = {"maxResults": 7, "labelIds": ["INBOX"]}
        if page_token:
            params["pageToken"] = page_token
        body = fg.api("GET", U + "/messages", token, params=params).json()
        sizes.append(len(body.get("messages", [])))
        ids += [m["id"] for m in body.get("messages", [])]
        page_token = body.get("nextPageToken")
        if not page_token:
            break
    assert 0 in sizes[:-1]
    assert len(ids) == len(set(ids)) == body["resultSizeEstimate"]
    everything = fg.api("GET", U + "/messages", token, params={"maxResults": 500}).json()
    with_spam = fg.api("GET", U + "/messages", token,
                       params={"maxResults": 500, "includeSpamTrash": "true"}).json()
    assert with_spam["resultSizeEstimate"] == 60 > everything["resultSizeEstimate"]
    both = fg.api("GET", U + "/messages", token,
                  params={"labelIds": ["INBOX", "UNREAD"], "maxResults": 500}).json()
    for ref in both["messages"]:
        labels = fg.api("GET", U + "/messages/" + ref["id"], token,
                        params={"format": "minimal"}).json()["labelIds"]
        assert {"INBOX", "UNREAD"} <= set(labels)


def test_empty_list_omits_messages(fg):
    token = fg.token()
    assert fg.api("GET", U + "/messages", token).json() == {"resultSizeEstimate": 0}


def test_q_operators(fg):
    token = fg.token()
    old = _deliver(fg, internalDate=str(1704067200000))              # 2024-01-01
    new = _deliver(fg, raw=KOI8, internalDate=str(1717408800000))    # 2024-06-03
    fg.admin("POST", "accounts/alice@example.com/labels", {"name": "Rally Customers"})
    fg.admin("POST", "accounts/alice@example.com/messages/%s/labels" % new["id"],
             {"add": ["Label_1"]})

    def q(text):
        body = fg.api("GET", U + "/messages", token, params={"q": text}).json()
        return {m["id"] for m in body.get("messages", [])}
    assert q("after:2024/05/01") == {new["id"]}
    assert q("before:2024/05/01") == {old["id"]}
    assert q("after:1714521600") == {new["id"]}
    assert q("rfc822msgid:<koi8@example.com>") == {new["id"]}
    assert q("rfc822msgid:koi8@example.com") == {new["id"]}
    assert q("label:rally-customers") == {new["id"]}
    assert q("-label:rally-customers") == {old["id"]}
    assert q("in:inbox is:unread") == {old["id"], new["id"]}
    assert q("newer_than:1d") == set()
    assert q("has:attachment") == {new["id"]}
    fg.api("POST", U + "/messages/%s/trash" % old["id"], token)
    assert q("in:trash") == {old["id"]}
    assert fg.api("GET", U + "/messages", token, params={"q": "a OR b"}).status == 400


def test_get_full_decodes_headers_transcodes_text_and_hides_attachments(fg):
    token = fg.token()
    msg = _deliver(fg, raw=KOI8)
    full = fg.api("GET", U + "/messages/" + msg["id"], token).json()
    headers = {h["name"]: h["value"] for h in full["payload"]["headers"]}
    assert headers["Subject"] == "Grüße" and headers["From"] == "Вася <vasya@example.com>"
    assert full["payload"]["partId"] == "" and full["payload"]["body"] == {"size": 0}
    text, pdf = full["payload"]["parts"]
    assert text["partId"] == "0" and unb64(text["body"]["data"]).decode("utf-8") == "Привет"
    assert {"name": "Content-Type", "value": "text/plain; charset=koi8-r"} in text["headers"]
    assert pdf["filename"] == "offer.pdf" and "data" not in pdf["body"]
    attachment = fg.api("GET", U + "/messages/%s/attachments/%s" % (
        msg["id"], pdf["body"]["attachmentId"]), token).json()
    assert unb64(attachment["data"]) == b"%PDF-1.4\n" and attachment["size"] == 9
    assert full["snippet"] == "Привет" and full["internalDate"].isdigit()
    assert full["sizeEstimate"] == len(KOI8) and full["historyId"].isdigit()


def test_get_metadata_minimal_raw(fg):
    token = fg.token()
    msg = _deliver(fg, raw=KOI8)
    meta = fg.api("GET", U + "/messages/" + msg["id"], token,
                  params={"format": "metadata", "metadataHeaders": ["Subject", "message-id"]}).json()
    assert meta["payload"]["headers"] == [{"name": "Subject", "value": "Grüße"},
                                          {"name": "Message-ID", "value": "<koi8@example.com>"}]
    minimal = fg.api("GET", U + "/messages/" + msg["id"], token, params={"format": "minimal"}).json()
    assert "payload" not in minimal and "snippet" not in minimal
    raw = fg.api("GET", U + "/messages/" + msg["id"], token, params={"format": "raw"}).json()
    assert unb64(raw["raw"]) == KOI8
    assert fg.api("GET", U + "/messages/" + msg["id"], token, params={"format": "x"}).status == 400


def test_large_parts_only_behind_attachment_id(fg):
    token = fg.token()
    fg.admin("POST", "settings", {"attachmentInlineMax": 100})
    raw = b"From: a@b.c\r\nSubject: big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + b"x" * 500
    msg = _deliver(fg, raw=raw)
    body = fg.api("GET", U + "/messages/" + msg["id"], token).json()["payload"]["body"]
    assert body["size"] == 500 and "data" not in body and body["attachmentId"]


def test_seeded_charsets_arrive_as_utf8(fg):
    token = fg.token()
    ids = fg.admin("POST", "accounts/alice@example.com/seed", {"messages": 25})["messageIds"]
    charsets, snippets = set(), []
    for message_id in ids:
        full = fg.api("GET", U + "/messages/" + message_id, token).json()
        snippets.append(full["snippet"])
        stack = [full["payload"]]
        while stack:
            part = stack.pop()
            stack += part.get("parts", [])
            for h in part["headers"]:
                if h["name"] == "Content-Type" and "charset" in h["value"]:
                    charsets.add(h["value"].split("charset=")[1].strip('"').lower())
            if part["mimeType"] == "text/plain" and "data" in part["body"]:
                unb64(part["body"]["data"]).decode("utf-8")      # must be valid UTF-8
    assert {"utf-8", "iso-8859-1", "windows-1252", "iso-2022-jp", "koi8-r"} <= charsets
    assert any("встречу" in s for s in snippets) and any("会議" in s for s in snippets)


def test_send_threads_replies_adds_sent_and_appears_in_history(fg):
    token = fg.token()
    original = _deliver(fg, raw=KOI8)
    start = fg.api("GET", U + "/profile", token).json()["historyId"]
    reply = (b"From: alice@example.com\r\nTo: vasya@example.com\r\nSubject: Re: Gr\xc3\xbc\xc3\x9fe\r\n"
             b"In-Reply-To: <koi8@example.com>\r\nReferences: <koi8@example.com>\r\n"
             b"Message-ID: <reply-1@rally.test>\r\n\r\nThanks!\r\n")
    sent = fg.api("POST", U + "/messages/send", token,
                  {"raw": b64(reply), "threadId": original["threadId"]}).json()
    assert sent["threadId"] == original["threadId"] and sent["labelIds"] == ["SENT"]
    unrelated = fg.api("POST", U + "/messages/send", token, {"raw": b64(
        b"To: x@example.com\r\nSubject: new topic\r\n\r\nhi")}).json()
    assert unrelated["threadId"] == unrelated["id"]
    got = fg.api("GET", U + "/messages/" + unrelated["id"], token,
                 params={"format": "metadata"}).json()
    names = {h["name"] for h in got["payload"]["headers"]}
    assert {"Message-ID", "Date", "From"} <= names
    found = fg.api("GET", U + "/messages", token,
                   params={"q": "in:sent rfc822msgid:<reply-1@rally.test>"}).json()
    assert [m["id"] for m in found["messages"]] == [sent["id"]]
    history = fg.api("GET", U + "/history", token, params={"startHistoryId": start}).json()
    added = [h["messagesAdded"][0]["message"]["id"] for h in history["history"]]
    assert added == [sent["id"], unrelated["id"]]
    assert fg.api("POST", U + "/messages/send", token, {"raw": "!!!"}).status == 400
    assert fg.api("POST", U + "/messages/send", token, {"raw": b64(b"no header here")}).status == 400


def test_upload_send_media(fg):
    token = fg.token(scopes=("https://www.googleapis.com/auth/gmail.send",))
    resp = fg.api("POST", "/upload/gmail/v1/users/me/messages/send", token,
                  body=b"To: x@example.com\r\nSubject: upload\r\n\r\nbody",
                  params={"uploadType": "media"}, headers={"Content-Type": "message/rfc822"})
    assert resp.status == 200 and resp.json()["labelIds"] == ["SENT"]


def test_modify_trash_untrash_delete_and_history_types(fg):
    token = fg.token(scopes=(GMAIL, FULL_MAIL))
    msg = _deliver(fg)
    start = fg.api("GET", U + "/profile", token).json()["historyId"]
    modified = fg.api("POST", U + "/messages/%s/modify" % msg["id"], token,
                      {"addLabelIds": ["STARRED"], "removeLabelIds": ["UNREAD"]}).json()
    assert set(modified["labelIds"]) == {"INBOX", "STARRED"}
    assert fg.api("POST", U + "/messages/%s/modify" % msg["id"], token,
                  {"addLabelIds": ["SENT"]}).status == 400
    assert fg.api("POST", U + "/messages/%s/modify" % msg["id"], token,
                  {"addLabelIds": ["Label_404"]}).status == 400
    trashed = fg.api("POST", U + "/messages/%s/trash" % msg["id"], token).json()
    assert "TRASH" in trashed["labelIds"]
    untrashed = fg.api("POST", U + "/messages/%s/untrash" % msg["id"], token).json()
    assert "TRASH" not in untrashed["labelIds"]
    assert fg.api("DELETE", U + "/messages/" + msg["id"], token).status == 204
    assert fg.api("GET", U + "/messages/" + msg["id"], token).status == 404
    history = fg.api("GET", U + "/history", token, params={"startHistoryId": start}).json()
    kinds = [next(k for k in h if k not in ("id", "messages")) for h in history["history"]]
    assert kinds == ["labelsAdded", "labelsRemoved", "labelsAdded", "labelsRemoved",
                     "messagesDeleted"]
    assert history["history"][0]["labelsAdded"][0]["labelIds"] == ["STARRED"]
    only_deleted = fg.api("GET", U + "/history", token, params={
        "startHistoryId": start, "historyTypes": "messageDeleted"}).json()
    assert [list(h)[-1] for h in only_deleted["history"]] == ["messagesDeleted"]


def test_history_pagination_and_404_past_the_horizon(fg):
    token = fg.token()
    start = fg.api("GET", U + "/profile", token).json()["historyId"]
    for _ in range(5):
        _deliver(fg)
    first = fg.api("GET", U + "/history", token, params={"startHistoryId": start,
                                                          "maxResults": 2}).json()
    assert len(first["history"]) == 2 and first["nextPageToken"]
    second = fg.api("GET", U + "/history", token, params={
        "startHistoryId": start, "maxResults": 2, "pageToken": first["nextPageToken"]}).json()
    assert int(second["history"][0]["id"]) > int(first["history"][1]["id"])
    latest = fg.api("GET", U + "/profile", token).json()["historyId"]
    assert fg.api("GET", U + "/history", token,
                  params={"startHistoryId": latest}).json() == {"historyId": latest}
    fg.admin("POST", "accounts/alice@example.com/expire-history", {})
    gone = fg.api("GET", U + "/history", token, params={"startHistoryId": start})
    assert gone.status == 404
    fg.admin("POST", "settings", {"gmailHistoryMax": 3})
    assert fg.api("GET", U + "/history", token).status == 400     # startHistoryId required


def test_batch_modify_and_batch_endpoint(fg):
    token = fg.token()
    a, b = _deliver(fg), _deliver(fg)
    resp = fg.api("POST", U + "/messages/batchModify", token,
                  {"ids": [a["id"], b["id"]], "removeLabelIds": ["UNREAD"]})
    assert resp.status == 204
    parts = []
    for n, path in enumerate(["/gmail/v1/users/me/messages/%s?format=minimal" % a["id"],
                              "/gmail/v1/users/me/messages/nosuch", "/gmail/v1/users/me/profile"]):
        parts.append("--BOUNDARY\r\nContent-Type: application/http\r\nContent-ID: <item%d>\r\n\r\n"
                     "GET %s HTTP/1.1\r\n\r\n" % (n, path))
    body = "".join(parts) + "--BOUNDARY--\r\n"
    resp = fg.api("POST", "/batch/gmail/v1", token, body=body,
                  headers={"Content-Type": "multipart/mixed; boundary=BOUNDARY"})
    assert resp.status == 200
    boundary = resp.headers["Content-Type"].split("boundary=")[1]
    answers = [p for p in resp.body.split(b"--" + boundary.encode()) if b"HTTP/1.1" in p]
    assert len(answers) == 3
    assert b"Content-ID: <response-item0>" in answers[0] and b"HTTP/1.1 200" in answers[0]
    assert json.loads(answers[0].split(b"\r\n\r\n", 2)[2])["labelIds"] == ["INBOX"]
    assert b"HTTP/1.1 404" in answers[1] and b"HTTP/1.1 200" in answers[2]
    log = fg.admin("GET", "requests")["requests"]
    assert sum(1 for e in log if e.get("batch")) == 3


def test_watch_pushes_pubsub_envelope_coalesced(fg, receiver):
    token = fg.token()
    fg.admin("POST", "pubsub", {"topic": "projects/rally/topics/gmail",
                                "subscription": "projects/rally/subscriptions/push",
                                "pushEndpoint": receiver.url})
    watch = fg.api("POST", U + "/watch", token, {"topicName": "projects/rally/topics/gmail",
                                                  "labelIds": ["INBOX"]}).json()
    assert watch["historyId"].isdigit() and int(watch["expiration"]) > 0
    for _ in range(5):
        _deliver(fg)
    first = receiver.wait_for(1)
    time.sleep(1.3)        # the rest coalesce into at most one more notification
    got = receiver.wait_for(2, timeout=2)
    assert 1 <= len(got) <= 2, [(json.loads(base64.b64decode(json.loads(r["body"])["message"]["data"])), r["t"] - got[0]["t"]) for r in got]
    envelope = json.loads(got[-1]["body"])
    assert envelope["subscription"] == "projects/rally/subscriptions/push"
    data = json.loads(base64.b64decode(envelope["message"]["data"]))
    profile = fg.api("GET", U + "/profile", token).json()
    assert data == {"emailAddress": "alice@example.com", "historyId": int(profile["historyId"])}
    assert envelope["message"]["messageId"] and envelope["message"]["publishTime"]
    assert first
    assert fg.api("POST", U + "/stop", token).status == 204
    _deliver(fg)
    time.sleep(1.2)
    assert len(receiver.received) == len(got)
    assert fg.api("POST", U + "/watch", token, {"topicName": "bad"}).status == 400


def test_push_goes_to_the_endpoints_exact_path_with_a_secret_segment(fg, receiver):
    # Rally's receiver takes its secret as the last path segment
    # (/hooks/google/gmail/SECRET): it must arrive as configured, unchanged.
    secret = "0f3a9c" * 8
    fg.admin("POST", "pubsub", {"topic": "projects/rally/topics/gmail-path",
                                "pushEndpoint": receiver.url + "/google/gmail/" + secret})
    token = fg.token()
    fg.api("POST", U + "/watch", token, {"topicName": "projects/rally/topics/gmail-path"})
    _deliver(fg)
    got = receiver.wait_for(1)
    assert got and got[0]["path"] == "/hook/google/gmail/" + secret
    assert "?" not in got[0]["path"]
    fg.api("POST", U + "/stop", token)


def test_other_users_mailbox_is_refused(fg):
    token = fg.token()
    assert fg.api("GET", "/gmail/v1/users/alice@example.com/profile", token).status == 200
    assert fg.api("GET", "/gmail/v1/users/bob@example.com/profile", token).status == 403


def test_in_batch_faults_answer_or_leave_out_single_parts(fg):
    token = fg.token()
    a, b, c = _deliver(fg), _deliver(fg), _deliver(fg)
    fg.admin("POST", "faults", {"kind": "429", "inBatch": True, "count": 1,
                                "pathPrefix": "/gmail/v1/users/me/messages/%s" % a["id"]})
    fg.admin("POST", "faults", {"kind": "omit", "inBatch": True, "count": 1,
                                "pathPrefix": "/gmail/v1/users/me/messages/%s" % b["id"]})
    assert fg.request("POST", "/__admin/faults", {"kind": "omit"}).status == 400
    # A top-level rule never fires for the inner requests, and the reverse.
    fg.admin("POST", "faults", {"kind": "500", "count": 1,
                                "pathPrefix": "/gmail/v1/users/me/messages/%s" % c["id"]})
    parts = ["--B\r\nContent-Type: application/http\r\nContent-ID: <i%d>\r\n\r\n"
             "GET /gmail/v1/users/me/messages/%s HTTP/1.1\r\n\r\n" % (n, m["id"])
             for n, m in enumerate((a, b, c))]
    resp = fg.api("POST", "/batch/gmail/v1", token, body="".join(parts) + "--B--\r\n",
                  headers={"Content-Type": "multipart/mixed; boundary=B"})
    assert resp.status == 200
    body = resp.body.decode("latin-1")
    assert "<response-i1>" not in body
    assert "<response-i0>\r\n\r\nHTTP/1.1 429" in body
    assert "<response-i2>\r\n\r\nHTTP/1.1 200" in body
    fg.admin("DELETE", "faults")
