package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/internal/pgtest"
)

// TestMultiNodePostgresSurvivesSIGKILL runs two real `serve` processes on one
// PostgreSQL database, publishes through both, kills one with SIGKILL while
// deliveries are in flight, and checks that every event is delivered at least
// once, with duplicates bounded by what the dead node had in flight.
func TestMultiNodePostgresSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node test skipped in -short mode")
	}
	dsn := pgtest.NewDatabase(t)
	const (
		events      = 4000
		concurrency = 16
	)
	var mu sync.Mutex
	got := map[string]int{}
	byNode := map[string]int{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		got[r.Header.Get("X-Webhook-ID")]++
		byNode[r.Header.Get("User-Agent")]++
		mu.Unlock()
	}))
	defer recv.Close()

	out, errOut, code := runCLI(t, "accounts", "create", "--db", dsn, "--name", "Multi", "--json")
	if code != 0 {
		t.Fatalf("create account: %s", errOut)
	}
	var acc struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	json.Unmarshal([]byte(out), &acc)

	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	flags := []string{"--secret-key", key, "--delivery-timeout", "2s", "--lease", "5s",
		"--concurrency", fmt.Sprint(concurrency), "--retry-schedule", "0s,200ms,200ms,200ms,200ms,200ms,200ms,200ms"}
	a := startServe(t, dsn, flags...)
	b := startServe(t, dsn, flags...)
	ca, _ := client.New("http://"+a.addr, acc.APIKey, client.WithIngestToken("test-ingest"))
	cb, _ := client.New("http://"+b.addr, acc.APIKey, client.WithIngestToken("test-ingest"))
	if _, err := ca.CreateWebhook(t.Context(), client.CreateWebhookRequest{Name: "multi", URL: recv.URL,
		Events: []client.SubscribableEventType{"outbound.delivered"}}); err != nil {
		t.Fatal(err)
	}
	// The webhook created through A is visible through B: one database.
	if ws, err := cb.ListWebhooks(t.Context()); err != nil || len(ws) != 1 {
		t.Fatalf("node B sees %d webhooks (%v)", len(ws), err)
	}

	publish := func(c *client.Client, prefix string, n int) {
		for off := 0; off < n; off += 500 {
			batch := make([]client.Event, 500)
			for i := range batch {
				id := fmt.Sprintf("evt_%s_%d", prefix, off+i)
				batch[i] = client.Event{ID: &id, AccountID: acc.ID, Type: "outbound.delivered"}
			}
			if _, err := c.PublishEvents(t.Context(), batch); err != nil {
				t.Errorf("publish through %s: %v", prefix, err)
				return
			}
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); publish(ca, "a", events/2) }()
	go func() { defer wg.Done(); publish(cb, "b", events/2) }()
	wg.Wait()

	waitFor(t, 20*time.Second, "deliveries under way", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 400 })
	a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.done
	mu.Lock()
	atKill := len(got)
	mu.Unlock()
	if atKill >= events {
		t.Fatalf("everything was delivered before the kill; the test proves nothing")
	}
	t.Logf("delivered before SIGKILL of node A: %d of %d", atKill, events)

	waitFor(t, 90*time.Second, "every event delivered by the surviving node", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= events
	})
	mu.Lock()
	dups := 0
	for _, n := range got {
		dups += n - 1
	}
	mu.Unlock()
	t.Logf("duplicates: %d (bound: node A's in-flight work, %d workers)", dups, concurrency)
	if dups > concurrency {
		t.Fatalf("%d duplicates exceed node A's in-flight capacity (%d)", dups, concurrency)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		rs, err := cb.QueryEvents(t.Context(), client.QueryRequest{Status: ptr(client.QueryStatus("success")), Limit: ptr(1)})
		if err == nil && rs.Total == events {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("history through node B: %v %v, want %d successes", rs, err, events)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
