"""Drives the generated Python client (sdks/python) against a live hookpost, the way the
README shows it, with a receiver that checks every request with hookpost_verify.

    PYTHONPATH=sdks/python python client_test.py BASE_URL TENANT_KEY

Prints one JSON object of what it saw; the scenario sdks::… asserts it.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hookpost_client import AuthenticatedClient
from hookpost_client.api.deliveries import get_delivery, list_deliveries, resend_delivery
from hookpost_client.api.events import publish_event
from hookpost_client.api.hooks import create_hook
from hookpost_client.models import Error, Event, EventData, HookInput
from hookpost_verify import verify

secret = None
verified = []


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        verified.append(verify(secret, dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def wait(what, check, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    sys.exit(f"timed out waiting for {what}")


def main(base, key):
    global secret
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = AuthenticatedClient(base_url=base, token=key)

    refused = create_hook.sync(client=client, body=HookInput(url="not a url", events=["*"]))
    hook = create_hook.sync(
        client=client,
        body=HookInput(url=f"http://127.0.0.1:{server.server_port}/hook", events=["ticket.created"]),
    )
    assert not isinstance(hook, Error), hook
    secret = hook.secret
    accepted = publish_event.sync(
        client=client, body=Event(type_="ticket.created", data=EventData.from_dict({"n": 1}))
    )
    assert not isinstance(accepted, Error), accepted

    def delivered():
        page = list_deliveries.sync(client=client, hook=hook.id)
        return [d for d in page.deliveries if d.status.value == "delivered"]

    first = wait("the delivery", delivered)[0]
    resent = resend_delivery.sync(first.id, client=client)
    assert not isinstance(resent, Error), resent
    wait("the resend", lambda: len(verified) >= 2)
    delivery = wait(
        "the resend in the log",
        lambda: (d := get_delivery.sync(first.id, client=client)) and len(d.attempts) >= 2 and d,
    )
    print(
        json.dumps(
            {
                "refused": refused.error.code if isinstance(refused, Error) else None,
                "event_id": accepted.id,
                "delivery_event_id": first.event_id,
                "created_at": delivery.created_at.isoformat() if hasattr(delivery.created_at, "isoformat") else delivery.created_at,
                "attempts": [a.outcome.value for a in delivery.attempts],
                "verified": verified,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
