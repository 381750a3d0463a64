require "openssl"

# Your endpoint's signing secret.
WEBHOOK_SECRET = "whsec_REPLACE_WITH_YOUR_SECRET"

# verify_webhook checks a delivery's Standard Webhooks signature: an HMAC-SHA256
# of "id.timestamp.body" keyed with the base64 part of the secret, not older or
# newer than five minutes. body is the raw request body.
def verify_webhook(secret, id, ts, signatures, body, now = Time.now.to_i)
  key = secret.delete_prefix("whsec_").unpack1("m0")
  return false if id.to_s.empty? || ts.to_s !~ /\A[0-9]+\z/
  return false if (now - ts.to_i).abs > 300
  want = "v1," + [OpenSSL::HMAC.digest("SHA256", key, "#{id}.#{ts}.#{body}")].pack("m0")
  # During a secret rotation there are two signatures; one matching is enough.
  signatures.to_s.split(" ").any? { |sig| OpenSSL.fixed_length_secure_compare(sig, want) rescue false }
end

# With Rack (Sinatra, Rails):
#   ok = verify_webhook(WEBHOOK_SECRET, request.get_header("HTTP_WEBHOOK_ID"),
#          request.get_header("HTTP_WEBHOOK_TIMESTAMP"), request.get_header("HTTP_WEBHOOK_SIGNATURE"),
#          request.body.read)
#   # If ok, handle the event (de-duplicate on webhook-id), answer 2xx quickly; else 401.
