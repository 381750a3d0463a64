package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jetwebhooks/jetwebhooks/client"
	"github.com/jetwebhooks/jetwebhooks/internal/pgtest"
)

// TestIdempotentCreatesSurviveSIGKILL kills `serve` with SIGKILL while
// creates carrying Idempotency-Keys are in flight, restarts it on the same
// database and retries every key with its request: each key ends with
// exactly one webhook, the one its acknowledged answer named, and no key
// stays locked past the lease.
func TestIdempotentCreatesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	t.Run("sqlite", func(t *testing.T) {
		testKeyedCreatesSurviveKill(t, filepath.Join(t.TempDir(), "idem.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		testKeyedCreatesSurviveKill(t, pgtest.NewDatabase(t),
			"--secret-key", base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	})
}

func testKeyedCreatesSurviveKill(t *testing.T, db string, extra ...string) {
	out, errOut, code := runCLI(t, "accounts", "create", "--db", db, "--name", "Keys", "--json")
	if code != 0 {
		t.Fatalf("create account: %s", errOut)
	}
	var acc struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(out), &acc); err != nil {
		t.Fatal(err)
	}
	flags := append([]string{"--idempotency-lease", "1s", "--rate-limit", "-1"}, extra...)
	p := startServe(t, db, flags...)
	c, _ := client.New("http://"+p.addr, acc.APIKey)

	const keys = 400
	req := func(i int) client.CreateWebhookRequest {
		return client.CreateWebhookRequest{Name: fmt.Sprintf("keyed %03d", i), URL: "https://example.com/hook",
			Events: []client.SubscribableEventType{"outbound.delivered"}}
	}
	key := func(i int) client.CallOption { return client.WithIdempotencyKey(fmt.Sprintf("crash-key-%03d", i)) }

	var mu sync.Mutex
	acked := map[int]string{} // key index -> uuid of the acknowledged webhook
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= keys {
					return
				}
				w, err := c.CreateWebhook(t.Context(), req(i), key(i))
				if err != nil {
					return // the process is gone
				}
				mu.Lock()
				acked[i] = w.UUID.String()
				mu.Unlock()
			}
		}()
	}
	waitFor(t, 20*time.Second, "creates under way", func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= 40 })
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	wg.Wait()
	mu.Lock()
	atKill := len(acked)
	mu.Unlock()
	if atKill >= keys {
		t.Fatalf("every create was answered before the kill; the test proves nothing")
	}
	t.Logf("acknowledged before SIGKILL: %d of %d keys", atKill, keys)

	p2 := startServe(t, db, flags...)
	c, _ = client.New("http://"+p2.addr, acc.APIKey)
	// Retry every key sent so far, and the ones never sent, as a client
	// would; "still being processed" is the only answer worth waiting out.
	sent := min(int(next.Load()), keys)
	waited := 0
	for i := range keys {
		deadline := time.Now().Add(15 * time.Second)
		for {
			w, err := c.CreateWebhook(t.Context(), req(i), key(i))
			var apiErr *client.Error
			if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusConflict &&
				strings.Contains(apiErr.Message, "still being processed") && time.Now().Before(deadline) {
				waited++
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if err != nil {
				t.Fatalf("key %d (sent before the kill: %v): %v", i, i < sent, err)
			}
			if uuid, ok := acked[i]; ok && w.UUID.String() != uuid {
				t.Fatalf("key %d: acknowledged webhook %s, the retry answered %s", i, uuid, w.UUID)
			}
			acked[i] = w.UUID.String()
			break
		}
	}
	t.Logf("retries that waited for a dead request's lease: %d", waited)
	list, err := c.ListWebhooks(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	perName := map[string]int{}
	for _, w := range list {
		perName[w.Name]++
	}
	for i := range keys {
		if n := perName[req(i).Name]; n != 1 {
			t.Errorf("key %d: %d webhooks, want exactly 1", i, n)
		}
	}
	if len(list) != keys {
		t.Errorf("%d webhooks for %d keys", len(list), keys)
	}
}
