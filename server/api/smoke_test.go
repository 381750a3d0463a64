package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/accounts"
	"github.com/jetwebhooks/jetwebhooks/server/api"
	"github.com/jetwebhooks/jetwebhooks/server/egress"
	"github.com/jetwebhooks/jetwebhooks/server/ingest"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
)

func TestSmoke(t *testing.T) {
	st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "a.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	acc, key, _ := accounts.Create(t.Context(), st, "Acme", []string{"api-user"}, []string{"example.com"}, time.Now())
	a, err := api.New(t.Context(), api.Config{Egress: egress.NewPolicy(nil), IngestToken: "tok"}, st, &ingest.Publisher{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	defer srv.Close()
	do := func(method, path, body, auth string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+auth)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		t.Logf("%s %s -> %d %s", method, path, resp.StatusCode, b)
	}
	do("POST", "/webhooks", `{"name":"My Webhook","url":"https://example.com/webhook","events":["outbound.delivered","outbound.bounced"]}`, key)
	do("POST", "/webhooks", `{"name":"My Webhook","url":"https://example.com/webhook","events":["outbound.delivered","outbound.bounced"], "filter_users":["nope"]}`, key)
	do("POST", "/webhooks", `{"name":"My.Webhook","url":"ftp://example.com/webhook","events":["outbound.queued"], "x":1}`, key)
	do("POST", "/webhooks", `{"name":"x","url":"http://127.0.0.1/","events":["outbound.delivered"]}`, key)
	do("POST", "/webhooks", `{bad json`, key)
	do("POST", "/webhooks", ``, key)
	do("GET", "/webhooks", ``, key)
	do("GET", "/webhooks", ``, "nope")
	do("GET", "/webhooks/../etc", ``, key)
	do("PUT", "/webhooks", ``, key)
	do("GET", "/nothing", ``, key)
	do("POST", "/webhooks/query", `{}`, key)
	do("POST", "/webhooks/query", `{"limit": 0}`, key)
	do("POST", "/webhooks/replay", `{}`, key)
	do("POST", "/webhooks/replay", `{"event_id":"evt_x"}`, key)
	do("POST", "/events", `{"account_id":"`+acc.ID+`","type":"outbound.delivered","user":"api-user","data":{"a":1}}`, "tok")
	do("POST", "/events", `{"account_id":"nope","type":"outbound.delivered"}`, "tok")
	do("POST", "/webhooks/query", `{}`, key)
	do("GET", "/healthz", ``, "")
}
