package portal

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jetwebhooks/jetwebhooks/gen/models"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

const pageSize = 50

// deliveryStatuses are the delivery log's status filter choices.
var deliveryStatuses = []string{store.StatusPending, store.StatusRetry, store.StatusSuccess, store.StatusFailed}

// filterTimeLayout is what <input type="datetime-local"> submits.
const filterTimeLayout = "2006-01-02T15:04"

// logFilter is the delivery log's filter, as submitted.
type logFilter struct {
	Webhook, EventType, Status, From, To string
	Page                                 int
	Error                                string
}

func (f *logFilter) query(pageDelta int) string {
	v := url.Values{}
	for k, s := range map[string]string{"webhook": f.Webhook, "event_type": f.EventType, "status": f.Status, "from": f.From, "to": f.To} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if n := f.Page + pageDelta; n > 1 {
		v.Set("page", strconv.Itoa(n))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// PrevQuery and NextQuery are the query strings of the neighbouring pages.
func (f *logFilter) PrevQuery() string { return f.query(-1) }
func (f *logFilter) NextQuery() string { return f.query(1) }

// deliveries is the delivery log: the account's deliveries, newest first,
// filtered by endpoint, event type, status and time.
func (p *Portal) deliveries(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	f := &logFilter{Webhook: q.Get("webhook"), EventType: q.Get("event_type"), Status: q.Get("status"), From: q.Get("from"), To: q.Get("to")}
	f.Page, _ = strconv.Atoi(q.Get("page"))
	if f.Page < 1 || f.Page > 10000 {
		f.Page = 1
	}
	qp := &store.QueryParams{AccountID: s.acc.ID, Limit: pageSize, Offset: (f.Page - 1) * pageSize}
	if f.Webhook != "" && isUUID(f.Webhook) {
		qp.WebhookUUID = strings.ToLower(f.Webhook)
	}
	if f.EventType != "" && known(f.EventType, eventTypeNames()) {
		qp.EventType = f.EventType
	}
	if known(f.Status, deliveryStatuses) {
		qp.Status = f.Status
	}
	for _, t := range []struct {
		in   string
		out  **time.Time
		name string
		end  bool
	}{{f.From, &qp.From, "From", false}, {f.To, &qp.To, "To", true}} {
		if t.in == "" {
			continue
		}
		v, err := time.Parse(filterTimeLayout, t.in)
		if err != nil {
			f.Error = t.name + " is not a date and time."
			continue
		}
		if t.end {
			v = v.Add(time.Minute - time.Millisecond)
		}
		*t.out = &v
	}
	recs, total, err := p.cfg.Store.QueryDeliveries(r.Context(), qp)
	if err != nil {
		p.internal(w, r, err)
		return
	}
	names, err := p.hookNames(r, s)
	if err != nil {
		p.apiFailed(w, r, s, err)
		return
	}
	p.render(w, r, http.StatusOK, "deliveries", s, map[string]any{
		"Title": "Delivery log", "Records": recs, "Total": total, "Filter": f, "Names": names, "Hooks": hookOptions(names),
		"EventTypes": eventTypeNames(), "Statuses": deliveryStatuses,
		"HasPrev": f.Page > 1, "HasNext": f.Page*pageSize < total,
	})
}

func known(v string, list []string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func eventTypeNames() []string {
	cat := eventCatalog()
	out := make([]string, len(cat))
	for i, c := range cat {
		out[i] = c.Type
	}
	return out
}

// hookOption is one endpoint of a select list.
type hookOption struct{ ID, Name string }

// hookOptions lists the endpoints of names by name, for select lists.
func hookOptions(names map[string]string) []hookOption {
	out := make([]hookOption, 0, len(names))
	for id, n := range names {
		out = append(out, hookOption{id, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// hookNames maps the account's webhook ids to their names (through the API).
func (p *Portal) hookNames(r *http.Request, s *session) (map[string]string, error) {
	var list models.WebhookListResponse
	if err := p.call(r, s, http.MethodGet, "/webhooks", nil, &list); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(list.Webhooks))
	for _, w := range list.Webhooks {
		out[w.UUID.String()] = w.Name
	}
	return out, nil
}

// attemptView is one attempt as the delivery page shows it: what was sent
// (signatures truncated) and what came back.
type attemptView struct {
	*store.Attempt
	N       int
	Headers [][2]string
}

// delivery shows one delivery (an event to one webhook) with every attempt.
func (p *Portal) delivery(w http.ResponseWriter, r *http.Request, s *session) {
	eventID, hookID := r.PathValue("event"), strings.ToLower(r.PathValue("webhook"))
	if eventID == "" || len(eventID) > 200 || !isUUID(hookID) {
		p.fail(w, r, s, http.StatusNotFound, "There is no such delivery.")
		return
	}
	recs, _, err := p.cfg.Store.QueryDeliveries(r.Context(), &store.QueryParams{AccountID: s.acc.ID, EventID: eventID, WebhookUUID: hookID, Limit: 1})
	if err != nil {
		p.internal(w, r, err)
		return
	}
	if len(recs) == 0 {
		p.fail(w, r, s, http.StatusNotFound, "There is no such delivery.")
		return
	}
	rec := recs[0]
	atts, err := p.cfg.Store.ListAttempts(r.Context(), s.acc.ID, rec.DeliveryID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		p.internal(w, r, err)
		return
	}
	views := make([]attemptView, len(atts))
	for i, a := range atts {
		n := a.Number
		if n == 0 {
			n = i + 1
		}
		views[i] = attemptView{Attempt: a, N: n, Headers: sentHeaders(rec, a)}
	}
	names, err := p.hookNames(r, s)
	if err != nil {
		p.apiFailed(w, r, s, err)
		return
	}
	p.render(w, r, http.StatusOK, "delivery", s, map[string]any{
		"Title": "Delivery " + rec.EventID, "Rec": rec, "Attempts": views, "Body": envelope(rec), "HookName": names[rec.WebhookUUID],
	})
}

// sentHeaders are the headers an attempt carried. The signatures are shown
// truncated: enough to recognise, useless to forge with.
func sentHeaders(rec *store.DeliveryRecord, a *store.Attempt) [][2]string {
	ts := strconv.FormatInt(a.At.Unix(), 10)
	return [][2]string{
		{"Content-Type", "application/json"},
		{"X-Webhook-ID", rec.EventID},
		{"X-Webhook-Timestamp", ts},
		{"X-Webhook-Signature", "sha256=…"},
		{"webhook-id", rec.EventID},
		{"webhook-timestamp", ts},
		{"webhook-signature", "v1,…"},
	}
}

// envelope is the delivered body of rec, indented for reading.
func envelope(rec *store.DeliveryRecord) string {
	text, err := envelopeText(rec.EventID, rec.Service, rec.EventType, rec.CreatedAt.Unix(), json.RawMessage(rec.Data))
	if err != nil {
		return string(rec.Data)
	}
	return text
}

// envelopeText is an event's envelope as ingest builds it (no data: {}),
// indented for reading: the delivery view and the catalog's examples.
func envelopeText(id, service, typ string, createdAt int64, data json.RawMessage) (string, error) {
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	b, err := json.MarshalIndent(struct {
		ID        string          `json:"id"`
		Service   string          `json:"service"`
		Type      string          `json:"type"`
		CreatedAt int64           `json:"created_at"`
		Data      json.RawMessage `json:"data"`
	}{id, service, typ, createdAt, data}, "", "  ")
	return string(b), err
}

// replay re-queues one delivery (event and webhook) or one event (every
// webhook it went to), through the API.
func (p *Portal) replay(w http.ResponseWriter, r *http.Request, s *session) {
	eventID := r.PostFormValue("event_id")
	hookID := r.PostFormValue("webhook")
	body := models.ReplayRequest{EventID: &eventID}
	back := "/deliveries"
	if hookID != "" {
		if !isUUID(hookID) {
			p.fail(w, r, s, http.StatusNotFound, "There is no such delivery.")
			return
		}
		u, err := uuid.Parse(hookID)
		if err != nil {
			p.fail(w, r, s, http.StatusNotFound, "There is no such delivery.")
			return
		}
		body.UUID = &u
		back = "/deliveries/" + url.PathEscape(eventID) + "/" + strings.ToLower(hookID)
	}
	if err := p.call(r, s, http.MethodPost, "/webhooks/replay", body, nil); err != nil {
		p.apiFailed(w, r, s, err)
		return
	}
	p.redirect(w, r, back, "replayed")
}
