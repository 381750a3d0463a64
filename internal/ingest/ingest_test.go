package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/internal/accounts"
	"github.com/jetwebhooks/jetwebhooks/internal/ingest"
	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/server/store/sqlitestore"
)

// countingStore counts transactions and can fail those that contain a marked event.
type countingStore struct {
	store.Store
	calls  atomic.Int64
	poison string
	gate   chan struct{}
}

func (c *countingStore) PublishEvents(ctx context.Context, evs []*store.Event, now time.Time) ([]store.PublishResult, error) {
	c.calls.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	for _, e := range evs {
		if c.poison != "" && e.ID == c.poison {
			return nil, errors.New("poisoned transaction")
		}
	}
	return c.Store.PublishEvents(ctx, evs, now)
}

func setup(t *testing.T) (*countingStore, *ingest.Publisher, *store.Account) {
	st, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "i.db"), sqlitestore.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	acc, _, err := accounts.Create(t.Context(), st, "a", nil, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := st.CreateWebhook(t.Context(), &store.Webhook{UUID: "00000000-0000-4000-8000-000000000001", AccountID: acc.ID, Name: "w",
		URL: "https://example.com", Secret: "whsec_x", Events: []string{"outbound.delivered"}, Enabled: true, CreatedAt: now, LastModified: now}, nil); err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: st}
	return cs, &ingest.Publisher{Store: cs}, acc
}

// Concurrent single-event publishes share transactions, each caller gets its
// own result, and a repeated id across callers is delivered once.
func TestGroupCommit(t *testing.T) {
	cs, pub, acc := setup(t)
	cs.gate = make(chan struct{})
	const callers = 50
	var wg sync.WaitGroup
	results := make([][]ingest.Result, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("evt_g%d", i)
			if i == callers-1 {
				id = "evt_g0" // the same id as caller 0
			}
			results[i], errs[i] = pub.Publish(t.Context(), []ingest.Event{{ID: id, AccountID: acc.ID, Type: "outbound.delivered"}})
		}()
	}
	// Let the first transaction start, then release it and all that follow.
	time.Sleep(50 * time.Millisecond)
	close(cs.gate)
	wg.Wait()
	dups := 0
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		r := results[i][0]
		want := fmt.Sprintf("evt_g%d", i)
		if i == callers-1 {
			want = "evt_g0"
		}
		if r.EventID != want {
			t.Fatalf("caller %d got the result of %s", i, r.EventID)
		}
		if r.Duplicate {
			dups++
		} else if r.Deliveries != 1 {
			t.Fatalf("caller %d: %+v", i, r)
		}
	}
	if dups != 1 {
		t.Fatalf("%d callers saw a duplicate, want exactly 1", dups)
	}
	if n := cs.calls.Load(); n >= callers {
		t.Fatalf("%d transactions for %d callers: nothing was grouped", n, callers)
	}
	_, total, _ := cs.QueryDeliveries(t.Context(), &store.QueryParams{AccountID: acc.ID, Limit: 1})
	if total != callers-1 {
		t.Fatalf("%d deliveries stored, want %d", total, callers-1)
	}
}

// A group that fails is retried call by call: only the bad call fails.
func TestGroupCommitIsolatesErrors(t *testing.T) {
	cs, pub, acc := setup(t)
	cs.poison = "evt_bad"
	cs.gate = make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("evt_ok%d", i)
			if i == 5 {
				id = "evt_bad"
			}
			_, errs[i] = pub.Publish(t.Context(), []ingest.Event{{ID: id, AccountID: acc.ID, Type: "outbound.delivered"}})
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(cs.gate)
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i == 5) {
			t.Fatalf("caller %d: err = %v", i, err)
		}
	}
}

func TestPublishValidates(t *testing.T) {
	_, pub, acc := setup(t)
	cases := []ingest.Event{
		{AccountID: acc.ID, Type: "outbound.nope"},
		{AccountID: "acc_unknown", Type: "outbound.delivered"},
		{AccountID: acc.ID, Type: "outbound.delivered", ID: "not-an-evt"},
		{AccountID: acc.ID, Type: "outbound.delivered", RawData: []byte(`[1,2]`)},
		{AccountID: acc.ID, Type: "outbound.delivered", RawData: []byte(`{"a":`)},
		{AccountID: acc.ID, Type: "outbound.delivered", CreatedAt: time.Unix(40000000000, 0)},
	}
	for i, ev := range cases {
		_, err := pub.Publish(t.Context(), []ingest.Event{ev})
		var in *ingest.InputError
		if !errors.As(err, &in) {
			t.Errorf("case %d: err = %v, want an InputError", i, err)
		}
	}
	if _, err := pub.Publish(t.Context(), nil); err == nil {
		t.Error("an empty publish was accepted")
	}
}
