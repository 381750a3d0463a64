package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/internal/pgtest"
)

// TestFIFOSurvivesSIGKILL kills a node with SIGKILL while a FIFO webhook's
// deliveries stream: on SQLite the only process (then restarted on the same
// file), on PostgreSQL one of two nodes (the other carries on). The receiver
// must still get every event, in ingest order, never two at once, and a
// repeat only of the event just before (the last one left unacknowledged).
func TestFIFOSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	t.Run("sqlite", func(t *testing.T) {
		testFIFOSurvivesKill(t, filepath.Join(t.TempDir(), "fifo.db"), false)
	})
	t.Run("postgres", func(t *testing.T) {
		testFIFOSurvivesKill(t, pgtest.NewDatabase(t), true,
			"--secret-key", base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	})
}

func testFIFOSurvivesKill(t *testing.T, db string, twoNodes bool, extra ...string) {
	const events = 300
	var mu sync.Mutex
	var seen []string
	inFlight, maxInFlight := 0, 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("X-Webhook-ID"))
		inFlight++
		maxInFlight = max(maxInFlight, inFlight)
		mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
	}))
	defer recv.Close()
	received := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }

	out, errOut, code := runCLI(t, "accounts", "create", "--db", db, "--name", "FIFO", "--json")
	if code != 0 {
		t.Fatalf("create account: %s", errOut)
	}
	var acc struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(out), &acc); err != nil {
		t.Fatal(err)
	}
	flags := append([]string{"--delivery-timeout", "1s", "--lease", "2s", "--rate-limit", "-1",
		"--retry-schedule", "0s,100ms,100ms,100ms,100ms,100ms"}, extra...)
	a := startServe(t, db, flags...)
	ca, _ := client.New("http://"+a.addr, acc.APIKey, client.WithIngestToken("test-ingest"))
	cb := ca
	if twoNodes {
		b := startServe(t, db, flags...)
		cb, _ = client.New("http://"+b.addr, acc.APIKey, client.WithIngestToken("test-ingest"))
	}
	fifo := client.OrderingFIFO
	if _, err := ca.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "ordered", URL: recv.URL,
		Events: []client.SubscribableEventType{"outbound.delivered"}, Ordering: &fifo}); err != nil {
		t.Fatal(err)
	}
	// Ingest order: batches published one after the other, alternating
	// between the nodes when there are two.
	var want []string
	for off := 0; off < events; off += 50 {
		batch := make([]client.Event, 50)
		for i := range batch {
			id := fmt.Sprintf("evt_fifo_%04d", off+i)
			want = append(want, id)
			batch[i] = client.Event{ID: &id, AccountID: acc.ID, Type: "outbound.delivered"}
		}
		c := ca
		if (off/50)%2 == 1 {
			c = cb
		}
		if _, err := c.PublishEvents(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
	}

	waitFor(t, 30*time.Second, "deliveries under way", func() bool { return received() >= 60 })
	a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.done
	atKill := received()
	if atKill >= events {
		t.Fatalf("everything was delivered before the kill; the test proves nothing")
	}
	t.Logf("received before SIGKILL: %d of %d", atKill, events)
	if !twoNodes {
		startServe(t, db, flags...)
	}
	waitFor(t, 60*time.Second, "every event after the kill", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0 && seen[len(seen)-1] == want[len(want)-1]
	})
	time.Sleep(200 * time.Millisecond) // nothing more may arrive
	mu.Lock()
	defer mu.Unlock()
	if maxInFlight != 1 {
		t.Errorf("%d requests in flight at once, want 1", maxInFlight)
	}
	var distinct []string
	dups := 0
	for i, id := range seen {
		if i > 0 && seen[i-1] == id {
			dups++
			continue
		}
		distinct = append(distinct, id)
	}
	if len(distinct) != len(want) {
		t.Fatalf("received %d distinct events in %d requests, want %d in order", len(distinct), len(seen), len(want))
	}
	for i := range want {
		if distinct[i] != want[i] {
			t.Fatalf("event %d received as %s, want %s: out of order (or a repeat of an acknowledged one)", i, distinct[i], want[i])
		}
	}
	t.Logf("repeats of the last unacknowledged event: %d", dups)
	if dups > 1 {
		t.Errorf("%d repeats; a SIGKILL leaves at most one delivery unacknowledged", dups)
	}
}
