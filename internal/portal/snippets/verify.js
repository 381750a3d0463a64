const crypto = require("crypto");

// Your endpoint's signing secret.
const SECRET = "whsec_REPLACE_WITH_YOUR_SECRET";

// verifyWebhook checks a delivery's Standard Webhooks signature: an HMAC-SHA256
// of "id.timestamp.body" keyed with the base64 part of the secret, not older or
// newer than five minutes. headers: Node's (lower-case names); body: the raw
// body as a Buffer, before any JSON parsing.
function verifyWebhook(secret, headers, body, nowSeconds = Math.floor(Date.now() / 1000)) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const id = headers["webhook-id"];
  const ts = headers["webhook-timestamp"] || "";
  if (!id || !/^[0-9]+$/.test(ts) || Math.abs(nowSeconds - Number(ts)) > 300) {
    return false;
  }
  const mac = crypto.createHmac("sha256", key).update(`${id}.${ts}.`).update(body).digest("base64");
  const want = Buffer.from("v1," + mac);
  // During a secret rotation there are two signatures; one matching is enough.
  return (headers["webhook-signature"] || "").split(" ").some((sig) => {
    const got = Buffer.from(sig);
    return got.length === want.length && crypto.timingSafeEqual(got, want);
  });
}

module.exports = { verifyWebhook };

if (require.main === module) {
  require("http").createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const ok = verifyWebhook(SECRET, req.headers, Buffer.concat(chunks));
      // If ok, handle the event (de-duplicate on webhook-id), answer 2xx quickly.
      res.writeHead(ok ? 204 : 401).end();
    });
  }).listen(8000);
}
