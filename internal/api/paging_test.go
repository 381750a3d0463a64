package api_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// listPage is GET /webhooks decoded, with next_cursor's presence kept.
type listPage struct {
	names  []string
	cursor *string
}

func (e *env) listPage(key string, query url.Values) listPage {
	e.t.Helper()
	path := "/webhooks"
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	r := e.do(rawReq{method: "GET", path: path, header: bearer(key)})
	if r.status != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	var body struct {
		Success  bool `json:"success"`
		Webhooks []struct {
			Name string `json:"name"`
		} `json:"webhooks"`
		NextCursor *string `json:"next_cursor"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || !body.Success || body.Webhooks == nil {
		e.t.Fatalf("GET %s: %v; %s", path, err, r.body)
	}
	p := listPage{names: []string{}, cursor: body.NextCursor}
	for _, w := range body.Webhooks {
		p.names = append(p.names, w.Name)
	}
	return p
}

// TestListWebhooksPaging: limit and cursor page through the webhooks in
// creation order, within one second too (created_at is kept to the
// millisecond), with next_cursor only while there is more.
func TestListWebhooksPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	var names []string
	for i := range 7 {
		name := fmt.Sprintf("Hook %d", i)
		names = append(names, name)
		e.create(e.A, createReq(name))
		e.clock.Advance(time.Millisecond) // all seven in the same second
	}
	e.create(e.B, createReq("B Hook"))

	limit3 := url.Values{"limit": {"3"}}
	var got []string
	var sizes []int
	p := e.listPage(e.A.Key, limit3)
	for {
		got = append(got, p.names...)
		sizes = append(sizes, len(p.names))
		if p.cursor == nil {
			break
		}
		if len(sizes) > 7 {
			t.Fatal("paging does not end")
		}
		p = e.listPage(e.A.Key, url.Values{"limit": {"3"}, "cursor": {*p.cursor}})
	}
	if !reflect.DeepEqual(sizes, []int{3, 3, 1}) {
		t.Errorf("page sizes = %v, want [3 3 1]", sizes)
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("pages = %v, want every webhook once, in creation order %v", got, names)
	}

	// Without parameters: all of them, no cursor.
	if all := e.listPage(e.A.Key, nil); !reflect.DeepEqual(all.names, names) || all.cursor != nil {
		t.Errorf("unpaged list = %v (cursor %v), want %v and no cursor", all.names, all.cursor, names)
	}
	// A page that ends exactly at the last webhook has no cursor; one short
	// of it has, and the next page holds the last one.
	if p := e.listPage(e.A.Key, url.Values{"limit": {"7"}}); len(p.names) != 7 || p.cursor != nil {
		t.Errorf("limit 7 of 7: %d webhooks, cursor %v; want 7 and none", len(p.names), p.cursor)
	}
	p6 := e.listPage(e.A.Key, url.Values{"limit": {"6"}})
	if len(p6.names) != 6 || p6.cursor == nil {
		t.Fatalf("limit 6 of 7: %d webhooks, cursor %v", len(p6.names), p6.cursor)
	}
	if last := e.listPage(e.A.Key, url.Values{"cursor": {*p6.cursor}}); !reflect.DeepEqual(last.names, names[6:]) || last.cursor != nil {
		t.Errorf("after the 6th, without limit: %v (cursor %v), want %v", last.names, last.cursor, names[6:])
	}
	// A cursor only says where to continue: B following A's cursor sees B's
	// own webhooks, never A's.
	if bp := e.listPage(e.B.Key, url.Values{"cursor": {*p6.cursor}}); len(bp.names) > 1 || (len(bp.names) == 1 && bp.names[0] != "B Hook") {
		t.Errorf("B with A's cursor sees %v", bp.names)
	}

	// The client pages the same way.
	page, err := e.A.C.ListWebhooksPage(ctx, 4, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Webhooks) != 4 || page.NextCursor == "" || page.Webhooks[0].Name != names[0] || page.Webhooks[0].Secret != nil {
		t.Errorf("client page 1 = %d webhooks, cursor %q", len(page.Webhooks), page.NextCursor)
	}
	page, err = e.A.C.ListWebhooksPage(ctx, 4, page.NextCursor)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Webhooks) != 3 || page.NextCursor != "" || page.Webhooks[2].Name != names[6] {
		t.Errorf("client page 2 = %d webhooks, cursor %q", len(page.Webhooks), page.NextCursor)
	}

	// Invalid paging parameters.
	valid := base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(e.clock.Now().UnixMilli(), 10) + ":" + uuid.NewString()))
	if p := e.listPage(e.A.Key, url.Values{"cursor": {valid}}); len(p.names) != 0 || p.cursor != nil {
		t.Errorf("a cursor after every webhook: %v", p.names)
	}
	for _, q := range []url.Values{
		{"cursor": {"garbage!"}},
		{"cursor": {"Z2FyYmFnZQ"}}, // base64url of "garbage"
		{"cursor": {base64.RawURLEncoding.EncodeToString([]byte("123:not-a-uuid"))}},
		{"cursor": {base64.RawURLEncoding.EncodeToString([]byte("-5:" + uuid.NewString()))}},
		{"cursor": {base64.RawURLEncoding.EncodeToString([]byte("soon:" + uuid.NewString()))}},
		{"cursor": {base64.StdEncoding.EncodeToString([]byte("1736524800000:" + uuid.NewString()))}}, // padded: not ours
		{"cursor": {strings.Repeat("a", 201)}},
		{"limit": {"0"}},
		{"limit": {"1001"}},
		{"limit": {"-1"}},
		{"limit": {"ten"}},
		{"limit": {"2.5"}},
	} {
		r := e.do(rawReq{method: "GET", path: "/webhooks?" + q.Encode()})
		if r.status != http.StatusBadRequest {
			t.Errorf("GET /webhooks?%s: %d %s, want 400", q.Encode(), r.status, r.body)
		}
	}
	if _, err := e.A.C.ListWebhooksPage(ctx, 0, "not-a-cursor"); err == nil {
		t.Error("client page with a garbage cursor: no error")
	}
}

// TestListWebhooksCap: without parameters the list stops at 1000 webhooks
// and says where to continue; the client's ListWebhooks follows.
func TestListWebhooksCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	// Seeded through the store: 1001 creates over HTTP would only be slower.
	base := e.clock.Now()
	for i := range 1001 {
		at := base.Add(time.Duration(i) * time.Millisecond)
		w := &store.Webhook{UUID: uuid.NewString(), AccountID: e.A.ID, Name: fmt.Sprintf("Bulk %04d", i), URL: "https://example.com/webhook",
			Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Events: []string{"outbound.delivered"}, Enabled: true, CreatedAt: at, LastModified: at}
		if err := e.st.CreateWebhook(ctx, w, nil); err != nil {
			t.Fatal(err)
		}
	}
	first := e.listPage(e.A.Key, nil)
	if len(first.names) != 1000 || first.cursor == nil || first.names[999] != "Bulk 0999" {
		t.Fatalf("unpaged list of 1001: %d webhooks, cursor %v", len(first.names), first.cursor)
	}
	if rest := e.listPage(e.A.Key, url.Values{"cursor": {*first.cursor}}); !reflect.DeepEqual(rest.names, []string{"Bulk 1000"}) || rest.cursor != nil {
		t.Errorf("after the cap: %v (cursor %v)", rest.names, rest.cursor)
	}
	all, err := e.A.C.ListWebhooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1001 || all[0].Name != "Bulk 0000" || all[1000].Name != "Bulk 1000" {
		t.Errorf("client ListWebhooks: %d webhooks, want all 1001 in order", len(all))
	}
	seen := map[string]bool{}
	for _, w := range all {
		if seen[w.Name] {
			t.Fatalf("client ListWebhooks returned %s twice", w.Name)
		}
		seen[w.Name] = true
	}
	if page, err := e.A.C.ListWebhooksPage(ctx, 1000, ""); err != nil || len(page.Webhooks) != 1000 || page.NextCursor == "" {
		t.Errorf("ListWebhooksPage(1000): %v", err)
	}
}
