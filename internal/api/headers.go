package api

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jetwebhooks/jetwebhooks/gen/models"
	"github.com/jetwebhooks/jetwebhooks/internal/egress"
)

// headerValuePattern is the spec's pattern for a custom header's value
// (WebhookHeaders): no control characters but the horizontal tab.
const headerValuePattern = `^[^\x00-\x08\x0A-\x1F\x7F]*$`

// checkHeaders applies the egress rules for custom headers (see
// egress.CheckHeaders) to a create's or update's headers and returns the
// set to store (nil for none). Every problem is a detail at
// /headers/<name> (or /headers for the set); the headline names the first.
// Values are never quoted, in answers or logs: they may be credentials.
// Names are, like any member name the API refuses.
func checkHeaders(h map[string]string) (map[string]string, error) {
	problems := egress.CheckHeaders(h)
	if len(problems) == 0 {
		if len(h) == 0 {
			return nil, nil
		}
		out := make(map[string]string, len(h))
		for k, v := range h {
			out[k] = v
		}
		return out, nil
	}
	details := make([]models.ErrorDetail, 0, len(problems))
	for _, p := range problems {
		field := "/headers"
		if !p.All {
			field += "/" + pointerToken(p.Name)
		}
		if len(details) < 20 {
			details = append(details, models.ErrorDetail{Field: field, Reason: p.Reason})
		}
	}
	first := problems[0]
	subject := "the set"
	if !first.All {
		subject = strconv.Quote(truncate(first.Name, 64))
	}
	return nil, badRequest(fmt.Sprintf("Invalid headers: %s %s.", subject, first.Reason), details...)
}

// pointerToken escapes a member name for a JSON pointer (RFC 6901).
func pointerToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// headersModel is the headers member of a webhook answered to its owner:
// absent (nil) when there are none.
func headersModel(h map[string]string) *models.WebhookHeaders {
	if len(h) == 0 {
		return nil
	}
	m := make(models.WebhookHeaders, len(h))
	for k, v := range h {
		m[k] = v
	}
	return &m
}

// appendHeadersJSON appends `,"headers":{…}` as encoding/json writes the
// model's map: members sorted by name, names and values escaped alike.
func appendHeadersJSON(b []byte, h map[string]string) []byte {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	b = append(b, `,"headers":{`...)
	for i, k := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, h[k])
	}
	return append(b, '}')
}
