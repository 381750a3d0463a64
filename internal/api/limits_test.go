package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
)

// TestEveryOperationAnswersTooLarge: each operation answers a header block
// over the server's limit with 431 and a body over its limit with 413 (an
// operation without a body too), in the error shape, as the spec declares
// for every operation.
func TestEveryOperationAnswersTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	spec, err := apiserver.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	params := strings.NewReplacer("{uuid}", "00000000-0000-4000-8000-000000000001", "{event_id}", "evt_1", "{id}", "evt_1")
	bigHeader := http.Header{"X-Padding": {strings.Repeat("h", 80<<10)}}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			p := params.Replace(path)
			if r := e.do(rawReq{method: method, path: p, header: bigHeader}); r.status != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("%s %s with 80 KiB of headers: %d, want 431", method, p, r.status)
			}
			limit := 1 << 20
			if strings.EqualFold(op.OperationID, "ingestEventBatch") {
				limit = 10 << 20
			}
			body := `{"x":"` + strings.Repeat("b", limit) + `"}`
			if r := e.do(rawReq{method: method, path: p, body: body}); r.status != http.StatusRequestEntityTooLarge {
				t.Errorf("%s %s with a body over %d bytes: %d, want 413", method, p, limit, r.status)
			}
		}
	}
}
