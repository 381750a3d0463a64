package jetwebhooks_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/jetwebhooks/jetwebhooks"
)

// optionalInResponses is every property of a 2xx answer that openapi.yaml
// leaves out of `required`, with when the server leaves it out. Any other
// property the server always sends must be required, so that generators
// (oapi-codegen, openapi-typescript) type it as a value, not a pointer or
// `T | undefined`. A new optional response field goes here with its reason.
var optionalInResponses = map[string]string{
	"AttemptListResponse.next_cursor":    "only when there are more attempts",
	"WebhookListResponse.next_cursor":    "only when there are more webhooks",
	"Webhook.secret":                     "absent in lists (WebhookWithSecret requires it)",
	"WebhookResponse.message":            "create and rotate-secret send it, get does not",
	"DeliveryAttempt.error_class":        "absent when the attempt succeeded",
	"TestDeliveryResponse.error_class":   "absent when the test delivery succeeded",
	"TestDeliveryResponse.response_body": "absent when the endpoint's answer had no body",
	"IngestResponse.duplicate":           "only true, on a repeated event id",
	"EventRecord.replayed":               "only true, on a delivery a replay queued again (absent, the record is JetEmail's)",
	"Webhook.ordering":                   "only when fifo (absent means unordered, as for JetEmail's webhooks)",
	"Webhook.rate_limit":                 "only when the webhook has a limit",
	"Webhook.headers":                    "only when the webhook has custom headers, and never in lists (the values may be credentials)",
}

// TestResponseRequired: every property of a success answer is required unless
// it is listed in optionalInResponses (and every listed one exists and is
// optional).
func TestResponseRequired(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(jetwebhooks.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	optional := map[string]bool{}
	seen := map[*openapi3.Schema]bool{}
	var walk func(name string, ref *openapi3.SchemaRef)
	walk = func(name string, ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil {
			return
		}
		if ref.Ref != "" {
			name = ref.Ref[strings.LastIndex(ref.Ref, "/")+1:]
		}
		s := ref.Value
		if seen[s] {
			return
		}
		seen[s] = true
		for _, sub := range slices.Concat(s.AllOf, s.OneOf, s.AnyOf) {
			walk(name, sub)
		}
		walk(name, s.Items)
		required := map[string]bool{}
		for _, r := range s.Required {
			required[r] = true
		}
		for _, sub := range s.AllOf { // an allOf member's required covers the others' properties
			if sub.Value != nil {
				for _, r := range sub.Value.Required {
					required[r] = true
				}
			}
		}
		for _, p := range slices.Sorted(maps.Keys(s.Properties)) {
			if !required[p] {
				optional[name+"."+p] = true
			}
			walk(name+"."+p, s.Properties[p])
		}
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for code, resp := range op.Responses.Map() {
				if !strings.HasPrefix(code, "2") || resp.Value == nil {
					continue
				}
				for _, mt := range resp.Value.Content {
					walk(op.OperationID, mt.Schema)
				}
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(optional)) {
		if optionalInResponses[p] == "" {
			t.Errorf("%s is optional in a success answer: add it to `required` if the server always sends it, else to optionalInResponses with why", p)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(optionalInResponses)) {
		if !optional[p] {
			t.Errorf("optionalInResponses lists %s, which is not an optional response property", p)
		}
	}
}

// TestNullableFieldsUseNullable: every nullable property is generated as this
// module's nullable.Nullable (which fmt prints as its value), never as a
// pointer or oapi-codegen's own nullable type: it carries x-go-type
// jwnullable.Nullable[…], the import of package nullable, and
// x-go-type-skip-optional-pointer (see the comment atop components/schemas).
func TestNullableFieldsUseNullable(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(jetwebhooks.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range slices.Sorted(maps.Keys(doc.Components.Schemas)) {
		s := doc.Components.Schemas[name].Value
		for _, p := range slices.Sorted(maps.Keys(s.Properties)) {
			ps := s.Properties[p].Value
			if ps == nil || !ps.Nullable {
				continue
			}
			n++
			where := name + "." + p
			if typ, _ := ps.Extensions["x-go-type"].(string); !strings.HasPrefix(typ, "jwnullable.Nullable[") {
				t.Errorf("%s: x-go-type %q, want jwnullable.Nullable[T]", where, typ)
			}
			imp, _ := ps.Extensions["x-go-type-import"].(map[string]any)
			if imp["name"] != "jwnullable" || imp["path"] != "github.com/jetwebhooks/jetwebhooks/nullable" {
				t.Errorf("%s: x-go-type-import %v, want {name: jwnullable, path: github.com/jetwebhooks/jetwebhooks/nullable}", where, imp)
			}
			if ps.Extensions["x-go-type-skip-optional-pointer"] != true {
				t.Errorf("%s: no x-go-type-skip-optional-pointer: true (an optional Nullable would be a pointer)", where)
			}
		}
	}
	if n < 15 {
		t.Errorf("found %d nullable properties, want at least 15", n)
	}
}
