package portal

import (
	"sort"

	"github.com/jetwebhooks/jetwebhooks/gen/models"
)

// Custom headers in the portal: their names are shown on the endpoint page,
// their values never. The portal is for the people who receive an account's
// webhooks, signed in with a link the operator's backend minted; a header's
// value is usually a credential the account set for its own receiver (which
// already knows it), and the portal has no need to show it. The API shows
// values to the account's key alone. Editing an endpoint in the portal
// leaves its headers as they are (its form sends no headers member).

// headerNamesOnly returns h with every value blanked (nil for none), so a
// page can list the names and cannot show a value.
func headerNamesOnly(h *models.WebhookHeaders) *models.WebhookHeaders {
	if h == nil || len(*h) == 0 {
		return nil
	}
	out := make(models.WebhookHeaders, len(*h))
	for name := range *h {
		out[name] = ""
	}
	return &out
}

// HeaderNames lists the endpoint's custom header names, sorted.
func (h *hookView) HeaderNames() []string {
	if h.Headers == nil {
		return nil
	}
	names := make([]string, 0, len(*h.Headers))
	for name := range *h.Headers {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
