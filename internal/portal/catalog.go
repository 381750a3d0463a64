package portal

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
	"github.com/jetwebhooks/jetwebhooks/internal/ingest"
)

// catalogEntry is one event type as the spec describes it.
type catalogEntry struct {
	Type        string
	Service     string
	Subscribe   bool // a webhook can subscribe to it
	Description string
	Example     string // the delivered envelope, indented
}

// specInfo is what the portal reads from the embedded OpenAPI document:
// the event catalog (EventType's x-event-catalog) and the words of the
// form fields' rules.
type specInfo struct {
	catalog      []catalogEntry
	subscribable []string
	hints        map[string]string
}

var loadSpec = sync.OnceValue(func() *specInfo {
	info := &specInfo{hints: map[string]string{}}
	spec, err := apiserver.GetSpec()
	if err != nil {
		return info
	}
	schemas := spec.Components.Schemas
	desc := func(name string) string {
		if s := schemas[name]; s != nil && s.Value != nil {
			return s.Value.Description
		}
		return ""
	}
	info.hints["name"] = desc("WebhookName")
	info.hints["url"] = desc("WebhookURL")
	if req := schemas["CreateWebhookRequest"]; req != nil && req.Value != nil {
		for _, f := range []string{"filter_users", "filter_domains"} {
			if p := req.Value.Properties[f]; p != nil && p.Value != nil {
				// The form says "blank for all" itself; the JSON null is not the user's business.
				info.hints[f] = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(p.Value.Description), "null = all."))
			}
		}
	}
	sub := map[string]bool{}
	if s := schemas["SubscribableEventType"]; s != nil && s.Value != nil {
		for _, v := range s.Value.Enum {
			if t, ok := v.(string); ok {
				info.subscribable = append(info.subscribable, t)
				sub[t] = true
			}
		}
	}
	et := schemas["EventType"]
	if et == nil || et.Value == nil {
		return info
	}
	var cat map[string]struct {
		Description string          `json:"description"`
		Data        json.RawMessage `json:"data"`
	}
	if raw, err := json.Marshal(et.Value.Extensions["x-event-catalog"]); err == nil {
		_ = json.Unmarshal(raw, &cat)
	}
	for _, v := range et.Value.Enum {
		t, ok := v.(string)
		if !ok {
			continue
		}
		c := cat[t]
		service := ingest.ServiceOf(t)
		env, _ := envelopeText("evt_abc123", service, t, 1736524800, c.Data)
		info.catalog = append(info.catalog, catalogEntry{Type: t, Service: service, Subscribe: sub[t], Description: c.Description, Example: env})
	}
	return info
})

func subscribableTypes() []string   { return loadSpec().subscribable }
func fieldHints() map[string]string { return loadSpec().hints }
func eventCatalog() []catalogEntry  { return loadSpec().catalog }

func (p *Portal) catalog(w http.ResponseWriter, r *http.Request, s *session) {
	p.render(w, r, http.StatusOK, "events", s, map[string]any{"Title": "Event catalog", "Catalog": eventCatalog()})
}
