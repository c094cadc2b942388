#!/usr/bin/env python3
"""Verify a hookpost delivery's `webhook-signature` with the stock Standard Webhooks
library (`pip install standardwebhooks`), for any hook secret.

The library takes a `whsec_` secret. A hook's generated secret is one already; a custom
secret (one your receiver already held, say from an older HappyFox or Tiledesk setup)
signs with its own UTF-8 bytes, so hand the library `whsec_` + the base64 of those bytes.
Handed a custom secret as it is, the library decodes it as base64 and refuses every
delivery.

Command line, as the test suite calls it:
    verify_standardwebhooks.py SECRET < request.json  (request.json: {"headers", "body"})
Prints "ok" and exits 0 when the signature checks out; exits 1 otherwise.
"""
import base64
import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def library_secret(secret: str) -> str:
    """The secret in the form every Standard Webhooks library takes."""
    if secret.startswith("whsec_"):
        return secret
    return "whsec_" + base64.b64encode(secret.encode()).decode()


def verify(secret: str, headers: dict, body: str) -> bool:
    try:
        Webhook(library_secret(secret)).verify(body, headers)
        return True
    except WebhookVerificationError:
        return False


if __name__ == "__main__":
    request = json.load(sys.stdin)
    ok = verify(sys.argv[1], request["headers"], request["body"])
    print("ok" if ok else "refused")
    sys.exit(0 if ok else 1)
