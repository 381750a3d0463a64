package sqlitestore_test

import (
	"crypto/sha256"
	"path/filepath"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
)

// FuzzQueryFilters drives the query builder with arbitrary filter values:
// every query must succeed, stay inside the account, and agree with its own
// total.
func FuzzQueryFilters(f *testing.F) {
	f.Add("", "evt_1", "outbound.delivered", "msg-1", "pending", int64(0), int64(2000000000), 10, 0)
	f.Add("00000000-0000-4000-8000-000000000001", "' OR 1=1 --", "x", "%", "success", int64(-5), int64(5), 1, 3)
	f.Add("\x00", "evt_\u202e", "inbound.spam", "_", "failed", int64(1<<40), int64(1), 1000, 1000000)
	dir := f.TempDir()
	st, err := sqlitestore.Open(f.Context(), filepath.Join(dir, "fuzz.db"), sqlitestore.Options{Synchronous: "OFF"})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	now := time.Unix(1736524800, 0)
	for _, id := range []string{"acc_a", "acc_b"} {
		h := sha256.Sum256([]byte(id))
		if _, err := st.CreateAccount(f.Context(), &store.CreateAccountParams{ID: id, Name: id, KeyHash: h[:], Now: now}); err != nil {
			f.Fatal(err)
		}
		if err := st.CreateWebhook(f.Context(), &store.Webhook{UUID: "00000000-0000-4000-8000-00000000000" + id[4:], AccountID: id, Name: "w",
			URL: "https://example.com", Secret: "whsec_x", Events: []string{"outbound.delivered"}, Enabled: true, CreatedAt: now, LastModified: now}, nil); err != nil {
			f.Fatal(err)
		}
		var evs []*store.Event
		for i := 0; i < 5; i++ {
			evs = append(evs, &store.Event{ID: "evt_" + id + string(rune('0'+i)), AccountID: id, Type: "outbound.delivered", Service: "outbound",
				SourceUID: "msg-1", Data: []byte(`{}`), Body: []byte(`{}`), CreatedAt: now.Add(time.Duration(i) * time.Second)})
		}
		if _, err := st.PublishEvents(f.Context(), evs, now); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, uuid, eventID, eventType, sourceUID, status string, from, to int64, limit, offset int) {
		if limit < 1 || limit > 1000 || offset < 0 || offset > 1000000 {
			return // the API's schema bounds these before the store sees them
		}
		p := &store.QueryParams{AccountID: "acc_a", WebhookUUID: uuid, EventID: eventID, EventType: eventType,
			SourceUID: sourceUID, Status: status, Limit: limit, Offset: offset}
		if from >= 0 && from < 1<<40 {
			t1 := time.Unix(from, 0)
			p.From = &t1
		}
		if to >= 0 && to < 1<<40 {
			t2 := time.Unix(to, 0)
			p.To = &t2
		}
		recs, total, err := st.QueryDeliveries(t.Context(), p)
		if err != nil {
			t.Fatalf("query failed: %v", err)
		}
		if total > 5 || len(recs) > limit || len(recs) > total {
			t.Fatalf("query escaped its account or its own total: %d records, total %d", len(recs), total)
		}
		for _, r := range recs {
			if r.EventID[:9] != "evt_acc_a" {
				t.Fatalf("record of another account: %s", r.EventID)
			}
		}
	})
}
