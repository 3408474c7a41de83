# SPDX-License-Identifier: ISC
"""Push senders: Calendar watch-channel webhooks and Gmail's Pub/Sub push, both delivered by
background worker threads so an API response never waits on a receiver.

Calendar: an empty POST per change with Google's X-Goog-* headers ("sync" when the channel
opens, then "exists"), retried with exponential backoff on 5xx or a network error. Gmail: a
Pub/Sub push envelope to the endpoint the admin API configured for the watch's topic, at most
one per user per `pubsubMinIntervalSeconds`; changes in between are coalesced into the next
notification, which carries the latest historyId."""

import base64
import collections
import email.utils
import heapq
import http.client
import itertools
import json
import ssl
import sys
import threading
import time
import urllib.parse

from . import clock

WORKERS = 4
USER_AGENT = "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"


class Job:
    def __init__(self, kind, key, url, headers, body, build=None):
        self.kind = kind          # "calendar" or "gmail"
        self.key = key            # deliveries with one key go out one at a time, in order
        self.url = url
        self.headers = headers
        self.body = body
        self.build = build        # called at send time (Gmail reads the latest historyId)
        self.attempt = 0
        self.not_before = 0.0     # monotonic time before which it must not be sent


class PushSender:
    def __init__(self, state, ssl_context):
        self.state = state
        self.ssl_context = ssl_context
        self._cond = threading.Condition()
        self._heap = []
        self._seq = itertools.count()
        self._generation = 0
        self._gmail_pending = set()
        self._gmail_last = {}
        self._active = set()                          # keys with a job queued or in flight
        self._waiting = collections.defaultdict(collections.deque)
        self.log = collections.deque(maxlen=2000)
        self._threads = [threading.Thread(target=self._worker, name="push-%d" % i, daemon=True)
                         for i in range(WORKERS)]
        for thread in self._threads:
            thread.start()

    # -- producers (called under the state lock) ----------------------------------------

    def attach(self, account):
        account.calendar.on_change = self.calendar_changed
        account.mailbox.on_change = self.gmail_changed

    def calendar_channel_opened(self, calendar, channel):
        self._calendar_notify(channel, "sync")

    def calendar_changed(self, calendar):
        now = clock.now_ms()
        for channel in list(self.state.channels.values()):
            if channel.account.calendar is calendar and channel.expiration > now:
                self._calendar_notify(channel, "exists")

    def _calendar_notify(self, channel, resource_state):
        channel.message_number += 1
        headers = {"X-Goog-Channel-ID": channel.id,
                   "X-Goog-Channel-Expiration": email.utils.formatdate(
                       channel.expiration / 1000, usegmt=True),
                   "X-Goog-Resource-ID": channel.resource_id,
                   "X-Goog-Resource-URI": channel.resource_uri,
                   "X-Goog-Resource-State": resource_state,
                   "X-Goog-Message-Number": str(channel.message_number)}
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        self._schedule(Job("calendar", "channel:" + channel.id, channel.address, headers, b""), 0)

    def gmail_changed(self, mailbox, msg):
        watch = mailbox.watch
        if watch is None or watch["expiration"] <= clock.now_ms():
            return
        if watch["labelIds"]:
            hit = bool(set(watch["labelIds"]) & msg.labels)
            if hit != (watch["behavior"] == "include"):
                return
        key = mailbox.email
        with self._cond:
            if key in self._gmail_pending:
                return           # coalesced into the notification already scheduled
            self._gmail_pending.add(key)
            due = max(0.0, self._gmail_last.get(key, 0) +
                      self.state.setting("pubsubMinIntervalSeconds") - time.monotonic())
        self._schedule(Job("gmail", "gmail:" + key, None, {}, b"",
                           build=lambda: self._gmail_envelope(mailbox)), due)

    def _gmail_envelope(self, mailbox):
        with self._cond:
            self._gmail_pending.discard(mailbox.email)
            self._gmail_last[mailbox.email] = time.monotonic()
        watch = mailbox.watch
        subscription = self.state.pubsub.get(watch["topicName"]) if watch else None
        if subscription is None:
            return None, None
        data = json.dumps({"emailAddress": mailbox.email, "historyId": mailbox.history_id})
        message_id = self.state.ids.digits(16)
        published = clock.rfc3339(clock.now())
        body = {"message": {"data": base64.b64encode(data.encode()).decode(),
                            "messageId": message_id, "message_id": message_id,
                            "publishTime": published, "publish_time": published},
                "subscription": subscription["subscription"]}
        return subscription["pushEndpoint"], json.dumps(body).encode()

    def clear(self):
        """Forget queued deliveries (admin reset)."""
        with self._cond:
            self._generation += 1
            self._heap.clear()
            self._gmail_pending.clear()
            self._gmail_last.clear()
            self._active.clear()
            self._waiting.clear()
            self.log.clear()

    # -- delivery -----------------------------------------------------------------------

    def _schedule(self, job, delay):
        job.not_before = time.monotonic() + delay
        with self._cond:
            if job.key in self._active:
                self._waiting[job.key].append(job)    # e.g. "exists" waits for "sync"'s retries
                return
            self._active.add(job.key)
            self._push(job, delay, self._generation)

    def _push(self, job, delay, generation):
        heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), generation, job))
        self._cond.notify()

    def _finished(self, job, generation):
        """Release the job's key: start the next delivery queued behind it."""
        with self._cond:
            if generation != self._generation:
                return
            waiting = self._waiting.get(job.key)
            if waiting:
                follower = waiting.popleft()
                self._push(follower, max(0.0, follower.not_before - time.monotonic()), generation)
            else:
                self._waiting.pop(job.key, None)
                self._active.discard(job.key)

    def _next_due(self):
        with self._cond:
            while True:
                if self._heap:
                    due = self._heap[0][0]
                    wait = due - time.monotonic()
                    if wait <= 0:
                        _, _, generation, job = heapq.heappop(self._heap)
                        if generation == self._generation:
                            return generation, job
                        continue
                    self._cond.wait(wait)
                else:
                    self._cond.wait()

    def _worker(self):
        while True:
            generation, job = self._next_due()
            try:
                done = self._deliver(generation, job)
            except Exception as exc:  # noqa: BLE001  - a worker must survive any receiver
                sys.stderr.write("fakegoogle: push worker error: %r\n" % (exc,))
                done = True
            if done:
                self._finished(job, generation)

    def _deliver(self, generation, job):
        """Send once; True when the job is finished (delivered or out of attempts)."""
        if job.build is not None and job.attempt == 0:
            job.url, job.body = job.build()
            if job.url is None:
                return True
            job.headers = {"Content-Type": "application/json"}
        job.attempt += 1
        status, error = self._post(job)
        entry = {"kind": job.kind, "url": job.url, "headers": job.headers,
                 "body": job.body.decode("utf-8", "replace"), "attempt": job.attempt,
                 "status": status, "error": error, "time": clock.rfc3339(clock.now())}
        with self._cond:
            if generation != self._generation:
                return True
            self.log.append(entry)
        retry = status is None or status >= 500 or status == 429
        if retry and job.attempt < self.state.setting("pushAttempts"):
            delay = self.state.setting("pushBackoffSeconds") * (2 ** (job.attempt - 1))
            with self._cond:
                self._push(job, delay, generation)
            return False
        return True

    def _post(self, job):
        url = urllib.parse.urlsplit(job.url)
        timeout = self.state.setting("pushTimeoutSeconds")
        try:
            if url.scheme == "https":
                conn = http.client.HTTPSConnection(url.hostname, url.port or 443,
                                                   timeout=timeout, context=self.ssl_context)
            else:
                conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=timeout)
            headers = dict(job.headers, **{"User-Agent": USER_AGENT,
                                           "Content-Length": str(len(job.body))})
            conn.request("POST", (url.path or "/") + ("?" + url.query if url.query else ""),
                         body=job.body, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            return response.status, None
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            return None, str(exc)[:200]
