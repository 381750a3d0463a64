import base64
import hashlib
import hmac
import time

# Your endpoint's signing secret.
SECRET = "whsec_REPLACE_WITH_YOUR_SECRET"


def verify_webhook(secret, headers, body, now=None):
    """Check a delivery's Standard Webhooks signature: an HMAC-SHA256 of
    "id.timestamp.body" keyed with the base64 part of the secret, not older or
    newer than five minutes. headers: a dict with lower-case names; body: the
    raw request body (bytes), before any JSON parsing."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id = headers.get("webhook-id", "")
    ts = headers.get("webhook-timestamp", "")
    if not msg_id or not ts.isdigit():
        return False
    now = int(time.time()) if now is None else now
    if abs(now - int(ts)) > 300:
        return False
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    want = "v1," + base64.b64encode(mac).decode()
    # During a secret rotation there are two signatures; one matching is enough.
    return any(hmac.compare_digest(sig, want) for sig in headers.get("webhook-signature", "").split())


if __name__ == "__main__":
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            ok = verify_webhook(SECRET, headers, body)
            # If ok, handle the event (de-duplicate on webhook-id), answer 2xx quickly.
            self.send_response(204 if ok else 401)
            self.end_headers()

    HTTPServer(("", 8000), Handler).serve_forever()
