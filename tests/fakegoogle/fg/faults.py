# SPDX-License-Identifier: ISC
"""Fault injection: rules the admin API installs to make the next N requests (or a fraction
of them), optionally only under a path prefix, misbehave the way Google and the network do.

Kinds:
  latency   sleep latencyMs, then serve normally
  429       Google's 429 rateLimitExceeded with Retry-After
  500, 503  backendError
  reset     close the TCP connection with RST before answering
  truncate  announce the full Content-Length, send half the body, close
  garbage   a non-JSON body (status `status`, default 200)
  cut       the first half of the answer's body, as a whole answer (JSON cut short)
  rewrite   the answer's body with each `find` replaced by `replace` (JSON spoiled)
  omit      (inBatch only) the part is left out of the batch's answer

A rule with "inBatch": true applies to the inner requests of a batch instead, each part on
its own (429, 500, 503, garbage, omit); top-level rules never see inner requests.
"""


KINDS = ("latency", "429", "500", "503", "reset", "truncate", "garbage", "cut", "rewrite",
         "omit")
BATCH_KINDS = ("429", "500", "503", "garbage", "omit")
MAX_RULES = 100


class FaultError(ValueError):
    pass


class Fault:
    def __init__(self, spec):
        kind = str(spec.get("kind", ""))
        if kind not in KINDS:
            raise FaultError("fault kind must be one of %s" % ", ".join(KINDS))
        self.kind = kind
        self.in_batch = bool(spec.get("inBatch", False))
        if self.in_batch and kind not in BATCH_KINDS:
            raise FaultError("inBatch faults are one of %s" % ", ".join(BATCH_KINDS))
        if kind == "omit" and not self.in_batch:
            raise FaultError("omit is a fault of batch parts: set inBatch")
        self.count = _number(spec, "count", None, int)
        self.probability = _number(spec, "probability", None, float)
        if self.count is None and self.probability is None:
            self.count = 1
        if self.probability is not None and not 0 <= self.probability <= 1:
            raise FaultError("probability must be within [0, 1]")
        self.path_prefix = str(spec.get("pathPrefix", "/"))
        self.method = spec.get("method")
        self.latency_ms = _number(spec, "latencyMs", 1000, int)
        self.retry_after = _number(spec, "retryAfter", 1, int)
        self.status = _number(spec, "status", 200, int)
        if not 0 <= self.latency_ms <= 60000:
            raise FaultError("latencyMs must be within [0, 60000]")
        if not 100 <= self.status <= 599:
            raise FaultError("status must be an HTTP status")
        self.find = str(spec.get("find", ""))
        self.replace = str(spec.get("replace", ""))
        if kind == "rewrite" and not self.find:
            raise FaultError("rewrite needs find")
        self.fired = 0

    def edit(self, body):
        """The body of an answer as a cut or rewrite fault leaves it."""
        if self.kind == "cut":
            return body[:len(body) // 2]
        return body.replace(self.find.encode("utf-8"), self.replace.encode("utf-8"))

    def describe(self):
        return {"kind": self.kind, "count": self.count, "probability": self.probability,
                "pathPrefix": self.path_prefix, "method": self.method,
                "latencyMs": self.latency_ms, "retryAfter": self.retry_after,
                "status": self.status, "inBatch": self.in_batch, "fired": self.fired}


def _number(spec, name, default, kind):
    value = spec.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FaultError("%s must be a number" % name)
    return kind(value)


class Faults:
    def __init__(self, rng):
        self.rules = []
        self._rng = rng      # the state's IdGen, so probabilities are reproducible per --seed

    def add(self, spec):
        if len(self.rules) >= MAX_RULES:
            raise FaultError("too many fault rules")
        fault = Fault(spec)
        self.rules.append(fault)
        return fault

    def clear(self):
        self.rules.clear()

    def match(self, method, path, in_batch=False):
        """The fault to apply to this request, if any; consumes one use of a counted rule."""
        for fault in self.rules:
            if fault.in_batch != in_batch:
                continue
            if not path.startswith(fault.path_prefix):
                continue
            if fault.method and fault.method != method:
                continue
            if fault.count is not None:
                if fault.count <= 0:
                    continue
                fault.count -= 1
            elif self._rng.random() >= fault.probability:
                continue
            fault.fired += 1
            return fault
        return None
