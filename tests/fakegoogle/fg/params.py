# SPDX-License-Identifier: ISC
"""Typed reads of query parameters with Google-style 400s for bad values.

The server parses a query string into {name: [values]}; handlers read it through these helpers
so every parameter gets the same validation and the same error wording."""

from .errors import bad_request

TRUE_FALSE = {"true": True, "false": False}


def get_str(query, name, default=None):
    values = query.get(name)
    return values[0] if values else default


def get_list(query, name):
    return list(query.get(name, []))


def get_bool(query, name, default=False):
    value = get_str(query, name)
    if value is None:
        return default
    if value not in TRUE_FALSE:
        raise bad_request("Invalid value '%s' for %s: expected true or false." % (value, name),
                          location=name)
    return TRUE_FALSE[value]


def get_int(query, name, default=None, minimum=None, maximum=None, clamp=False):
    """An integer parameter; out of range is a 400 unless `clamp` (Google clamps some)."""
    value = get_str(query, name)
    if value is None:
        return default
    try:
        number = int(value, 10)
    except ValueError:
        raise bad_request("Invalid value '%s' for %s: not an integer." % (value[:64], name),
                          location=name) from None
    if minimum is not None and number < minimum:
        raise bad_request("Invalid value '%d' for %s: must be at least %d." % (number, name, minimum),
                          location=name)
    if maximum is not None and number > maximum:
        if clamp:
            return maximum
        raise bad_request("Invalid value '%d' for %s: must be at most %d." % (number, name, maximum),
                          location=name)
    return number


def get_enum(query, name, allowed, default=None):
    value = get_str(query, name)
    if value is None:
        return default
    if value not in allowed:
        raise bad_request("Invalid value '%s' for %s." % (value[:64], name), location=name)
    return value
