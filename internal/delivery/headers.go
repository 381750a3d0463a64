package delivery

import (
	"net/http"
	"net/textproto"

	"github.com/jetwebhooks/jetwebhooks/internal/egress"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// setCustomHeaders adds the claim's custom headers to h, each under its
// canonical name (HTTP names are case-insensitive; one spelling per name
// means a later Set of the service's own header replaces it instead of
// sending both). The API let in only headers the egress rules allow; one
// that got into storage some other way is left out here too, and logged by
// name: never by value, which may be a credential.
func (e *Engine) setCustomHeaders(h http.Header, c *store.Claim) {
	for name, v := range c.Headers {
		if !egress.HeaderAllowed(name, v) {
			e.log.Warn("custom header not sent: refused by the header rules", "webhook", c.WebhookUUID, "header", name)
			continue
		}
		h[textproto.CanonicalMIMEHeaderKey(name)] = []string{v}
	}
}
