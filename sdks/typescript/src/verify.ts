// Verify a hookpost delivery in a receiver: both signatures every request carries.
//
//   import { verify } from "@hookpost/client";
//   const ok = verify(secret, request.headers, rawBody); // the body's bytes, as received
//
// - X-Hook-Signature: "sha1=" and the hex HMAC-SHA1 of the raw body. During a secret
//   rotation the old secret's signature is in X-Hook-Signature-Previous.
// - webhook-signature (Standard Webhooks), checked by the stock `standardwebhooks`
//   package, which also refuses a webhook-timestamp over five minutes off.
//
// `secret` is the hook's secret as hookpost gave it (whsec_…) or as you set it: a custom
// secret signs with its UTF-8 bytes, and the stock library takes it as "whsec_" plus the
// base64 of those bytes (standardWebhooksSecret).

import { createHmac, timingSafeEqual } from "node:crypto";
import { Webhook } from "standardwebhooks";

/** Request headers as Node (or a plain object) gives them. */
export type Headers = Record<string, string | string[] | undefined>;

/** The HMAC key: a whsec_ secret's base64-decoded part, any other secret's bytes. */
export function signingKey(secret: string): Buffer {
  return secret.startsWith("whsec_")
    ? Buffer.from(secret.slice("whsec_".length), "base64")
    : Buffer.from(secret, "utf8");
}

/** The secret in the form the stock Standard Webhooks libraries take. */
export function standardWebhooksSecret(secret: string): string {
  return secret.startsWith("whsec_")
    ? secret
    : "whsec_" + Buffer.from(secret, "utf8").toString("base64");
}

function lower(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** X-Hook-Signature (or, during a rotation, X-Hook-Signature-Previous). */
export function verifyHookSignature(secret: string, headers: Headers, body: Uint8Array | string): boolean {
  const h = lower(headers);
  const expected = "sha1=" + createHmac("sha1", signingKey(secret)).update(body).digest("hex");
  return ["x-hook-signature", "x-hook-signature-previous"].some((name) => same(expected, h[name] ?? ""));
}

/** webhook-signature over webhook-id and webhook-timestamp, by the stock library. */
export function verifyStandardWebhooks(secret: string, headers: Headers, body: Uint8Array | string): boolean {
  const text = typeof body === "string" ? body : Buffer.from(body).toString("utf8");
  try {
    new Webhook(standardWebhooksSecret(secret)).verify(text, lower(headers));
    return true;
  } catch {
    return false;
  }
}

/** Both signatures hold: the request is hookpost's, unchanged and recent. */
export function verify(secret: string, headers: Headers, body: Uint8Array | string): boolean {
  return verifyHookSignature(secret, headers, body) && verifyStandardWebhooks(secret, headers, body);
}
