# SPDX-License-Identifier: ISC
"""Gmail v1 handlers: profile, labels, messages (list/get/send/modify/trash/untrash/delete/
batchModify), attachments, history, watch/stop.

messages.get is the hot path (Rally fetches every message in full): the JSON of a message is
cached per (format, metadataHeaders, historyId), and historyId moves on every label change,
so a cached body can never show stale labels."""

import email.utils
import json
import re

from . import clock, gmail_query, mime
from .changelog import Expired
from .errors import ApiError, bad_request, not_found
from .gmail_store import looks_like_rfc5322
from .http import JSON_TYPE, Response, dumps, empty_response
from .paging import paginate
from .params import get_bool, get_enum, get_int, get_list, get_str
from .routes import Route

G = "https://www.googleapis.com/auth/gmail."
FULL = "https://mail.google.com/"
READ = (FULL, G + "modify", G + "readonly", G + "metadata")
MODIFY = (FULL, G + "modify")
LABELS_READ = READ + (G + "labels",)
SEND = (FULL, G + "modify", G + "send", G + "compose")
PROFILE = (FULL, G + "modify", G + "readonly", G + "metadata", G + "compose")
HISTORY_TYPES = ("messageAdded", "messageDeleted", "labelAdded", "labelRemoved")
_KIND_OF_TYPE = {"messageAdded": "messagesAdded", "messageDeleted": "messagesDeleted",
                 "labelAdded": "labelsAdded", "labelRemoved": "labelsRemoved"}
MAX_BATCH_IDS = 1000
MAX_LABEL_CHANGES = 100
CACHE_PER_MESSAGE = 8


def mailbox_of(ctx):
    user = ctx.p["userId"]
    if user != "me" and user.lower() != ctx.account.email.lower():
        raise ApiError(403, "forbidden", "Delegation denied for %s" % ctx.account.email)
    return ctx.account.mailbox


def message_of(mailbox, message_id):
    msg = mailbox.messages.get(message_id)
    if msg is None:
        raise not_found("Requested entity was not found.")
    return msg


# -- profile and labels -----------------------------------------------------------------

def get_profile(ctx):
    return mailbox_of(ctx).profile()


def labels_list(ctx):
    return {"labels": list(mailbox_of(ctx).labels.values())}


def labels_get(ctx):
    mailbox = mailbox_of(ctx)
    if ctx.p["id"] not in mailbox.labels:
        raise not_found("Requested entity was not found.")
    return mailbox.label_with_counts(ctx.p["id"])


def labels_create(ctx):
    return mailbox_of(ctx).create_label(ctx.req.json())


# -- messages.list ------------------------------------------------------------------------

def messages_list(ctx):
    mailbox = mailbox_of(ctx)
    q = ctx.q
    max_results = get_int(q, "maxResults", 100, minimum=1, maximum=500, clamp=True)
    label_ids = get_list(q, "labelIds")
    query = gmail_query.parse(get_str(q, "q", ""))
    include = get_bool(q, "includeSpamTrash") or query.reaches_spam_trash or \
        bool({"SPAM", "TRASH"} & set(label_ids))
    for label_id in label_ids:
        if label_id not in mailbox.labels:
            raise bad_request("Invalid label: %s" % label_id[:64], reason="invalidArgument")
    found = [m for m in mailbox.messages.values()
             if (include or not {"SPAM", "TRASH"} & m.labels)
             and all(l in m.labels for l in label_ids) and query.matches(m, mailbox)]
    found.sort(key=_newest_first)
    page = paginate(ctx.state.signer, found, _newest_first, max_results,
                    get_str(q, "pageToken"), q, ctx.state.settings, None)
    body = {}
    if page.items:
        body["messages"] = [m.ref(with_labels=False) for m in page.items]
    if page.next_token:
        body["nextPageToken"] = page.next_token
    body["resultSizeEstimate"] = len(found)
    return body


def _newest_first(msg):
    return (-msg.internal_date, -int(msg.id, 16))


# -- messages.get and attachments -------------------------------------------------------

def messages_get(ctx):
    mailbox = mailbox_of(ctx)
    msg = message_of(mailbox, ctx.p["id"])
    fmt = get_enum(ctx.q, "format", ("full", "metadata", "minimal", "raw"), "full")
    wanted = tuple(get_list(ctx.q, "metadataHeaders")) if fmt == "metadata" else ()
    return Response(200, render(ctx.state, msg, fmt, wanted), JSON_TYPE)


def render(state, msg, fmt, wanted=()):
    """Serialized Message JSON, cached on the message."""
    cache = msg.__dict__.setdefault("_json_cache", {})
    key = (fmt, wanted, msg.history_id, state.setting("attachmentInlineMax"))
    body = cache.get(key)
    if body is None:
        body = dumps(_message_body(state, msg, fmt, wanted))
        if len(cache) >= CACHE_PER_MESSAGE:
            cache.clear()
        cache[key] = body
    return body


def _message_body(state, msg, fmt, wanted):
    rendered = msg.rendered(state.setting("attachmentInlineMax"))
    out = {"id": msg.id, "threadId": msg.thread_id}
    if msg.labels:
        out["labelIds"] = sorted(msg.labels)
    if fmt != "minimal":
        out["snippet"] = rendered.snippet
    if fmt == "full":
        out["payload"] = rendered.payload
    elif fmt == "metadata":
        out["payload"] = {"partId": "", "mimeType": rendered.mime_type, "filename": "",
                          "headers": rendered.metadata_headers(wanted), "body": {"size": 0}}
    elif fmt == "raw":
        out["raw"] = mime.b64url(msg.raw)
    out.update(sizeEstimate=len(msg.raw), historyId=str(msg.history_id),
               internalDate=str(msg.internal_date))
    return out


def attachments_get(ctx):
    mailbox = mailbox_of(ctx)
    msg = message_of(mailbox, ctx.p["messageId"])
    data = msg.rendered(ctx.state.setting("attachmentInlineMax")).attachments.get(ctx.p["id"])
    if data is None:
        raise bad_request("Invalid attachment token", reason="invalidArgument")
    return {"attachmentId": ctx.p["id"], "size": len(data), "data": mime.b64url(data)}


# -- send -------------------------------------------------------------------------------

def messages_send(ctx):
    body = ctx.req.json()
    raw = body.get("raw")
    if not isinstance(raw, str) or not raw:
        raise bad_request("'raw' RFC822 payload message string or uploading message via /upload/* "
                          "URL required", reason="invalidArgument")
    try:
        data = mime.b64url_decode(raw)
    except ValueError:
        raise bad_request("Invalid value for ByteString: raw is not base64url.",
                          reason="invalidArgument") from None
    return _send(ctx, data, body.get("threadId"))


def upload_send(ctx):
    """POST /upload/gmail/v1/users/{userId}/messages/send: uploadType media or multipart."""
    kind = get_str(ctx.q, "uploadType")
    if kind == "media":
        return _send(ctx, ctx.req.body, None)
    if kind == "multipart":
        metadata, data = _split_related(ctx.req)
        return _send(ctx, data, metadata.get("threadId"))
    raise bad_request("uploadType must be media or multipart.", location="uploadType")


def _split_related(req):
    content_type = req.header("content-type", "")
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/related") or not match:
        raise bad_request("multipart upload needs a multipart/related body")
    sections = req.body.split(b"--" + match.group(1).encode())
    parts = [s for s in sections[1:] if not s.startswith(b"--")]
    if len(parts) != 2:
        raise bad_request("multipart upload needs metadata and media parts")
    bodies = [p.split(b"\r\n\r\n", 1)[-1].rstrip(b"\r\n") for p in parts]
    try:
        metadata = json.loads(bodies[0] or b"{}")
    except ValueError:
        raise bad_request("Invalid JSON metadata part") from None
    return metadata if isinstance(metadata, dict) else {}, bodies[1]


def _send(ctx, data, thread_id):
    mailbox = mailbox_of(ctx)
    if not looks_like_rfc5322(data):
        raise bad_request("Invalid raw message: no RFC 5322 header section.",
                          reason="invalidArgument")
    parsed = mime.parse(data)
    if not any(parsed.get(h) for h in ("To", "Cc", "Bcc")):
        raise bad_request("Recipient address required", reason="invalidArgument")
    data = _complete_headers(data, mailbox.email, ctx.state)
    msg = mailbox.deliver(data, ["SENT"], internal_date=clock.now_ms(),
                          thread_id=thread_id if isinstance(thread_id, str) else None)
    return msg.ref()


def _complete_headers(data, address, state):
    """Gmail adds Message-ID and Date when the client did not."""
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].lower()
    extra = b""
    if not re.search(rb"(^|\n)message-id:", head):
        extra += b"Message-ID: <%s@mail.gmail.com>\r\n" % state.ids.urlsafe(32).encode()
    if not re.search(rb"(^|\n)date:", head):
        extra += b"Date: %s\r\n" % email.utils.formatdate(clock.now()).encode()
    if not re.search(rb"(^|\n)from:", head):
        extra += b"From: %s\r\n" % address.encode()
    return extra + data


# -- label changes ------------------------------------------------------------------------

def _label_lists(body):
    add, remove = body.get("addLabelIds") or [], body.get("removeLabelIds") or []
    if not isinstance(add, list) or not isinstance(remove, list) or \
            len(add) + len(remove) > MAX_LABEL_CHANGES:
        raise bad_request("addLabelIds and removeLabelIds must be lists of label ids.")
    return add, remove


def messages_modify(ctx):
    mailbox = mailbox_of(ctx)
    msg = message_of(mailbox, ctx.p["id"])
    add, remove = _label_lists(ctx.req.json())
    return mailbox.modify(msg, add, remove).ref()


def messages_batch_modify(ctx):
    mailbox = mailbox_of(ctx)
    body = ctx.req.json()
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or len(ids) > MAX_BATCH_IDS:
        raise bad_request("ids must list 1 to %d message ids." % MAX_BATCH_IDS)
    add, remove = _label_lists(body)
    mailbox.check_labels(add + remove, by_hand=True)
    for message_id in ids:
        msg = mailbox.messages.get(message_id) if isinstance(message_id, str) else None
        if msg is not None:        # Gmail skips unknown ids in a batch
            mailbox.modify(msg, add, remove)
    return empty_response()


def messages_trash(ctx):
    mailbox = mailbox_of(ctx)
    msg = message_of(mailbox, ctx.p["id"])
    return mailbox.modify(msg, ["TRASH"], ["SPAM"], by_hand=False).ref()


def messages_untrash(ctx):
    mailbox = mailbox_of(ctx)
    msg = message_of(mailbox, ctx.p["id"])
    return mailbox.modify(msg, [], ["TRASH"], by_hand=False).ref()


def messages_delete(ctx):
    mailbox = mailbox_of(ctx)
    mailbox.delete(message_of(mailbox, ctx.p["id"]))
    return empty_response()


# -- history ------------------------------------------------------------------------------

def history_list(ctx):
    mailbox = mailbox_of(ctx)
    q = ctx.q
    start = get_str(q, "startHistoryId")
    if start is None:
        raise bad_request("Missing required parameter: startHistoryId", reason="required",
                          location="startHistoryId")
    if not start.isdigit() or len(start) > 20:
        raise bad_request("Invalid startHistoryId", location="startHistoryId")
    max_results = get_int(q, "maxResults", 100, minimum=1, maximum=500, clamp=True)
    types = get_list(q, "historyTypes")
    for name in types:
        if name not in HISTORY_TYPES:
            raise bad_request("Invalid value for historyTypes: %s" % name[:40], location="historyTypes")
    kinds = {_KIND_OF_TYPE[t] for t in types} or set(_KIND_OF_TYPE.values())
    label_id = get_str(q, "labelId")
    position = int(start)
    try:
        entries = [] if position > mailbox.log.last_id else mailbox.log.since(position)
    except Expired:
        raise not_found("Requested entity was not found.") from None
    records = [(hid, rec) for hid, rec in entries if rec["kind"] in kinds and
               (label_id is None or label_id in rec["message"].get("labelIds", []) or
                label_id in rec["labelIds"])]
    page = paginate(ctx.state.signer, records, lambda r: (r[0],), max_results,
                    get_str(q, "pageToken"), q, ctx.state.settings, None)
    body = {}
    if page.items:
        body["history"] = [_history_record(hid, rec) for hid, rec in page.items]
    if page.next_token:
        body["nextPageToken"] = page.next_token
    body["historyId"] = str(mailbox.history_id)
    return body


def _history_record(history_id, rec):
    entry = {"message": rec["message"]}
    if rec["kind"] in ("labelsAdded", "labelsRemoved"):
        entry["labelIds"] = rec["labelIds"]
    return {"id": str(history_id), "messages": [rec["message"]], rec["kind"]: [entry]}


# -- watch / stop -----------------------------------------------------------------------

def users_watch(ctx):
    mailbox = mailbox_of(ctx)
    body = ctx.req.json()
    topic = body.get("topicName")
    if not isinstance(topic, str) or not re.fullmatch(r"projects/[^/]+/topics/[^/]+", topic):
        raise bad_request("Invalid topicName does not match projects/*/topics/*",
                          reason="invalidArgument")
    labels = body.get("labelIds") or []
    if not isinstance(labels, list):
        raise bad_request("labelIds must be a list.")
    behavior = (body.get("labelFilterBehavior") or body.get("labelFilterAction") or "include").lower()
    if behavior not in ("include", "exclude"):
        raise bad_request("labelFilterBehavior must be include or exclude.")
    expiration = clock.now_ms() + 7 * 86400 * 1000
    mailbox.watch = {"topicName": topic, "labelIds": labels, "behavior": behavior,
                     "expiration": expiration}
    return {"historyId": str(mailbox.history_id), "expiration": str(expiration)}


def users_stop(ctx):
    mailbox_of(ctx).watch = None
    return empty_response()


def _route(method, path, handler, name, params, scopes, cost, root="/gmail/v1/"):
    return Route(method, path, handler, "gmail", name=name, params=("userId",) + tuple(params),
                 scopes=scopes, cost=cost, root=root)


_U = "users/{userId}/"
ROUTES = [
    _route("GET", _U + "profile", get_profile, "gmail.users.getProfile", (), PROFILE, 1),
    _route("POST", _U + "watch", users_watch, "gmail.users.watch", (), READ, 100),
    _route("POST", _U + "stop", users_stop, "gmail.users.stop", (), READ, 50),
    _route("GET", _U + "labels", labels_list, "gmail.users.labels.list", (), LABELS_READ, 1),
    _route("GET", _U + "labels/{id}", labels_get, "gmail.users.labels.get", ("id",), LABELS_READ, 1),
    _route("POST", _U + "labels", labels_create, "gmail.users.labels.create", (),
           (FULL, G + "modify", G + "labels"), 5),
    _route("GET", _U + "messages", messages_list, "gmail.users.messages.list",
           ("includeSpamTrash", "labelIds", "maxResults", "pageToken", "q"), READ, 5),
    _route("POST", _U + "messages/send", messages_send, "gmail.users.messages.send", (), SEND, 100),
    _route("POST", _U + "messages/send", upload_send, "gmail.users.messages.send", (), SEND, 100,
           root="/upload/gmail/v1/"),
    _route("POST", _U + "messages/batchModify", messages_batch_modify,
           "gmail.users.messages.batchModify", (), MODIFY, 50),
    _route("GET", _U + "messages/{id}", messages_get, "gmail.users.messages.get",
           ("format", "id", "metadataHeaders"), READ, 5),
    _route("DELETE", _U + "messages/{id}", messages_delete, "gmail.users.messages.delete",
           ("id",), (FULL,), 10),
    _route("POST", _U + "messages/{id}/modify", messages_modify, "gmail.users.messages.modify",
           ("id",), MODIFY, 5),
    _route("POST", _U + "messages/{id}/trash", messages_trash, "gmail.users.messages.trash",
           ("id",), MODIFY, 5),
    _route("POST", _U + "messages/{id}/untrash", messages_untrash, "gmail.users.messages.untrash",
           ("id",), MODIFY, 5),
    _route("GET", _U + "messages/{messageId}/attachments/{id}", attachments_get,
           "gmail.users.messages.attachments.get", ("id", "messageId"),
           (FULL, G + "modify", G + "readonly"), 5),
    _route("GET", _U + "history", history_list, "gmail.users.history.list",
           ("historyTypes", "labelId", "maxResults", "pageToken", "startHistoryId"), READ, 2),
]
