<?php
// Your endpoint's signing secret.
const WEBHOOK_SECRET = 'whsec_REPLACE_WITH_YOUR_SECRET';

// verify_webhook checks a delivery's Standard Webhooks signature: an HMAC-SHA256
// of "id.timestamp.body" keyed with the base64 part of the secret, not older or
// newer than five minutes. $body is the raw request body.
function verify_webhook(string $secret, string $id, string $ts, string $signatures, string $body, ?int $now = null): bool
{
    $key = base64_decode(preg_replace('/^whsec_/', '', $secret), true);
    if ($key === false || $id === '' || !ctype_digit($ts)) {
        return false;
    }
    if (abs(($now ?? time()) - (int) $ts) > 300) {
        return false;
    }
    $want = 'v1,' . base64_encode(hash_hmac('sha256', "$id.$ts.$body", $key, true));
    // During a secret rotation there are two signatures; one matching is enough.
    foreach (explode(' ', $signatures) as $sig) {
        if (hash_equals($want, $sig)) {
            return true;
        }
    }
    return false;
}

if (PHP_SAPI !== 'cli') {
    $ok = verify_webhook(
        WEBHOOK_SECRET,
        $_SERVER['HTTP_WEBHOOK_ID'] ?? '',
        $_SERVER['HTTP_WEBHOOK_TIMESTAMP'] ?? '',
        $_SERVER['HTTP_WEBHOOK_SIGNATURE'] ?? '',
        file_get_contents('php://input')
    );
    // If ok, handle the event (de-duplicate on webhook-id), answer 2xx quickly.
    http_response_code($ok ? 204 : 401);
}
