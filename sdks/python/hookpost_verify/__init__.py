"""Verify a hookpost delivery in a receiver: both signatures every request carries.

    from hookpost_verify import verify
    ok = verify(secret, request.headers, raw_body)   # the body's bytes, as received

- ``X-Hook-Signature``: ``sha1=`` and the hex HMAC-SHA1 of the raw body. During a secret
  rotation the old secret's signature is in ``X-Hook-Signature-Previous``.
- ``webhook-signature`` (Standard Webhooks), checked by the stock ``standardwebhooks``
  library, which also refuses a ``webhook-timestamp`` over five minutes off.

``secret`` is the hook's secret as hookpost gave it (``whsec_…``) or as you set it: a
custom secret (say one an older HappyFox or Tiledesk setup holds) signs with its UTF-8
bytes, and the stock library takes it as ``whsec_`` plus the base64 of those bytes
(:func:`standard_webhooks_secret`).
"""

import base64
import hashlib
import hmac
from typing import Mapping

from standardwebhooks import Webhook, WebhookVerificationError

__all__ = [
    "signing_key",
    "standard_webhooks_secret",
    "verify",
    "verify_hook_signature",
    "verify_standard_webhooks",
]


def signing_key(secret: str) -> bytes:
    """The HMAC key: a ``whsec_`` secret's base64-decoded part, any other secret's bytes."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode()


def standard_webhooks_secret(secret: str) -> str:
    """The secret in the form the stock Standard Webhooks libraries take."""
    if secret.startswith("whsec_"):
        return secret
    return "whsec_" + base64.b64encode(secret.encode()).decode()


def _lower(headers: Mapping[str, str]) -> dict:
    return {k.lower(): v for k, v in headers.items()}


def verify_hook_signature(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """``X-Hook-Signature`` (or, during a rotation, ``X-Hook-Signature-Previous``)."""
    h = _lower(headers)
    expected = "sha1=" + hmac.new(signing_key(secret), body, hashlib.sha1).hexdigest()
    return any(
        hmac.compare_digest(expected, h.get(name, ""))
        for name in ("x-hook-signature", "x-hook-signature-previous")
    )


def verify_standard_webhooks(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """``webhook-signature`` over ``webhook-id`` and ``webhook-timestamp``, by the stock library."""
    try:
        Webhook(standard_webhooks_secret(secret)).verify(body, _lower(headers))
        return True
    except WebhookVerificationError:
        return False


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """Both signatures hold: the request is hookpost's, unchanged and recent."""
    return verify_hook_signature(secret, headers, body) and verify_standard_webhooks(
        secret, headers, body
    )
