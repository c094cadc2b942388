#!/usr/bin/env python3
"""Verify a hookpost delivery: both signatures, with nothing but the standard library.

Used as a library (verify(...)) or from the command line, where the test suite calls it:
    verify_webhook.py SECRET < request.json   (request.json: {"headers": {...}, "body": "..."})
Prints "ok" and exits 0 when every signature checks out; exits 1 otherwise.
"""
import base64
import hashlib
import hmac
import json
import sys
import time

TOLERANCE_SECONDS = 5 * 60


def signing_key(secret: str) -> bytes:
    # A "whsec_" secret signs with its base64-decoded part; any other secret as UTF-8 bytes.
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode()


def verify(secret: str, headers: dict, body: bytes, now: float = None) -> bool:
    h = {k.lower(): v for k, v in headers.items()}
    key = signing_key(secret)

    # 1. X-Hook-Signature: sha1=<hex HMAC-SHA1 of the raw body>. During a secret rotation
    #    the old key's signature is in X-Hook-Signature-Previous: a receiver still on the
    #    old secret finds its match there.
    expected_sha1 = "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()
    sha1_ok = any(
        hmac.compare_digest(expected_sha1, h.get(name, ""))
        for name in ("x-hook-signature", "x-hook-signature-previous")
    )

    # 2. Standard Webhooks: HMAC-SHA256 over "{webhook-id}.{webhook-timestamp}.{body}"
    msg_id, ts = h.get("webhook-id", ""), h.get("webhook-timestamp", "0")
    if abs((now or time.time()) - int(ts)) > TOLERANCE_SECONDS:
        return False  # too old or from the future: a replay
    signed = f"{msg_id}.{ts}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    # The header may list several "v1,<sig>" entries (during a secret rotation).
    std_ok = any(
        hmac.compare_digest(expected, entry.split(",", 1)[1])
        for entry in h.get("webhook-signature", "").split(" ")
        if entry.startswith("v1,")
    )
    return sha1_ok and std_ok


if __name__ == "__main__":
    request = json.load(sys.stdin)
    ok = verify(sys.argv[1], request["headers"], request["body"].encode())
    print("ok" if ok else "bad signature")
    sys.exit(0 if ok else 1)
