# SPDX-License-Identifier: ISC
"""The whole in-memory world: OAuth clients and grants, accounts (each with a primary calendar
and a mailbox), watch channels, Pub/Sub subscriptions, settings, quota, faults, the request
log and the deterministic id generator.

One re-entrant lock guards it; API handlers hold it for the length of a request, which keeps
every handler simple and is fast enough because nothing slow (network I/O, push delivery)
happens under it. `reset()` rebuilds everything, so the admin reset cannot forget a piece."""

import hashlib
import threading

from . import clock
from . import settings as settings_mod
from .calendar_store import Calendar
from .faults import Faults
from .gmail_store import Mailbox
from .ids import IdGen
from .oauth_store import OAuthStore
from .paging import Signer
from .quota import Quota
from .reqlog import RequestLog


class Account:
    def __init__(self, state, email, sub):
        self.email = email
        self.sub = sub
        self.calendar = Calendar(state, email)
        self.mailbox = Mailbox(state, email)


class State:
    def __init__(self, seed=0):
        self.lock = threading.RLock()
        self.seed = seed
        self.pusher = None          # set once by the server; survives resets
        self.reset()

    def reset(self):
        with self.lock:
            self.ids = IdGen(self.seed)
            self.signer = Signer(hashlib.sha256(b"fakegoogle-%d" % self.seed).digest())
            self.settings = dict(settings_mod.DEFAULTS)
            self.accounts = {}          # email (lower case) -> Account
            self.accounts_by_sub = {}
            self.clients = {}           # client_id -> {"secret", "redirect_uris"}
            self.oauth = OAuthStore(self)
            self.channels = {}          # Calendar watch channel id -> Channel
            self.pubsub = {}            # topic -> {"subscription", "pushEndpoint"}
            self.quota = Quota()
            self.faults = Faults(IdGen(self.seed + 1))   # own RNG: draws must not shift ids
            self.log = RequestLog()
            self.etag_counter = 0
            clock.reset()
            if self.pusher is not None:
                self.pusher.clear()

    def setting(self, name):
        return self.settings[name]

    def add_account(self, email):
        key = email.lower()
        with self.lock:
            account = self.accounts.get(key)
            if account is None:
                account = Account(self, email, self.ids.digits(21))
                self.accounts[key] = account
                self.accounts_by_sub[account.sub] = account
                if self.pusher is not None:
                    self.pusher.attach(account)
            return account

    def account(self, email):
        return self.accounts.get((email or "").lower())

    def next_etag(self):
        """A fresh etag value; every write gets a new one (Google's are opaque numbers)."""
        self.etag_counter += 1
        return '"%d"' % (3400000000000000 + self.etag_counter * 1000)
