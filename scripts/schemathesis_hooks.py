"""Schemathesis hooks: how to send tsapi's newline-delimited JSON request bodies."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    """One JSON value per line; a generated list becomes one line per item."""
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in items).encode()
