// Package ingest turns published events into stored events and deliveries: it
// validates them (for callers that bypass the HTTP validator), assigns ids,
// builds the exact envelope that will be delivered and signed, and hands the
// batch to the store in one transaction. The HTTP handlers and the Go API for
// embedders both publish through it, so the rules live in one place.
package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// MaxBatch is the largest number of events one call may publish.
const MaxBatch = 1000

// EventTypes lists every event type that can occur; the subscribable ones are
// all but outbound.queued (JetEmail documents it as an event but does not let
// webhooks subscribe to it).
var EventTypes = []string{
	"outbound.queued",
	"outbound.delivered", "outbound.bounced", "outbound.rejected", "outbound.deferred", "outbound.spam",
	"outbound.dropped", "outbound.virus", "outbound.opened", "outbound.clicked", "outbound.complaint",
	"inbound.received", "inbound.delivered", "inbound.spam", "inbound.blocked",
}

var knownTypes = func() map[string]string {
	m := map[string]string{}
	for _, t := range EventTypes {
		if t[:7] == "inbound" {
			m[t] = "inbound"
		} else {
			m[t] = "outbound"
		}
	}
	return m
}()

// ServiceOf returns "outbound" or "inbound" for a known type, "" otherwise.
func ServiceOf(eventType string) string { return knownTypes[eventType] }

// maxCreatedAt (the year 3000) keeps millisecond times far from overflow.
const maxCreatedAt = 32503680000

// Event is one event to publish.
type Event struct {
	// ID is optional ("evt_…"); a repeated id is accepted once and never
	// delivered twice. Empty means a fresh id is assigned.
	ID        string
	AccountID string
	Type      string
	// User is the sending username of an outbound event (matched against filter_users).
	User string
	// Domain is the receiving domain of an inbound event (matched against filter_domains).
	Domain       string
	SourceUID    string
	SourceAction string
	// Data is delivered as the envelope's data object; nil means {}.
	Data map[string]any
	// RawData, when set, is the data object as JSON and wins over Data: its
	// bytes are delivered as they are (numbers keep every digit).
	RawData json.RawMessage
	// CreatedAt defaults to the time of publishing.
	CreatedAt time.Time
}

// Result is what publishing one event did.
type Result = store.PublishResult

// InputError reports an invalid event; nothing of the batch was stored.
type InputError struct {
	Index  int
	Field  string
	Reason string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("event %d: %s: %s", e.Index, e.Field, e.Reason)
}

// Publisher publishes events. Its zero value is not usable; set Store.
type Publisher struct {
	Store store.Store
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Published, if set, is called after a successful publish that queued
	// deliveries, to wake the local delivery engine.
	Published func()
	// Accepted, if set, is told how many new (non-duplicate) events each
	// successful publish stored (metrics).
	Accepted func(n int)

	accounts sync.Map // account id -> struct{}; accounts are never deleted

	mu      sync.Mutex   // guards the group commit
	pending []*commitReq // requests waiting for the current leader
	leading bool         // a caller is committing groups
}

// Publish validates and stores the events and their deliveries atomically.
func (p *Publisher) Publish(ctx context.Context, events []Event) ([]Result, error) {
	if len(events) == 0 {
		return nil, &InputError{Index: 0, Field: "events", Reason: "at least one event is required"}
	}
	if len(events) > MaxBatch {
		return nil, &InputError{Index: MaxBatch, Field: "events", Reason: fmt.Sprintf("at most %d events per batch", MaxBatch)}
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	t := now()
	out := make([]*store.Event, len(events))
	for i := range events {
		e, err := p.build(ctx, i, &events[i], t)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	res, err := p.commit(ctx, out, t)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, &InputError{Field: "account_id", Reason: "unknown account"}
		}
		return nil, fmt.Errorf("publish: %w", err)
	}
	if p.Accepted != nil {
		n := 0
		for _, r := range res {
			if !r.Duplicate {
				n++
			}
		}
		p.Accepted(n)
	}
	if p.Published != nil {
		for _, r := range res {
			if r.Deliveries > 0 {
				p.Published()
				break
			}
		}
	}
	return res, nil
}

// Prepare validates one event and builds what would be stored for it (id,
// envelope, times) without storing it; test sends store it themselves.
func (p *Publisher) Prepare(ctx context.Context, ev Event) (*store.Event, error) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	return p.build(ctx, 0, &ev, now())
}

func (p *Publisher) build(ctx context.Context, i int, in *Event, now time.Time) (*store.Event, error) {
	service := ServiceOf(in.Type)
	if service == "" {
		return nil, &InputError{Index: i, Field: "type", Reason: "unknown event type"}
	}
	if in.AccountID == "" {
		return nil, &InputError{Index: i, Field: "account_id", Reason: "is required"}
	}
	if err := p.checkAccount(ctx, in.AccountID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, &InputError{Index: i, Field: "account_id", Reason: "unknown account"}
		}
		return nil, err
	}
	id := in.ID
	if id == "" {
		id = NewEventID()
	} else if !validID(id) {
		return nil, &InputError{Index: i, Field: "id", Reason: "must match ^evt_[A-Za-z0-9_-]{1,64}$"}
	}
	created := in.CreatedAt
	if created.IsZero() {
		created = now
	}
	if created.Unix() < 0 || created.Unix() > maxCreatedAt {
		return nil, &InputError{Index: i, Field: "created_at", Reason: "must be between 0 and 32503680000 (unix seconds)"}
	}
	// The data is stored once, inside the envelope (store.Event.Data).
	body, _, err := buildEnvelope(id, service, in.Type, created.Unix(), in)
	if err != nil {
		return nil, &InputError{Index: i, Field: "data", Reason: err.Error()}
	}
	return &store.Event{ID: id, AccountID: in.AccountID, Type: in.Type, Service: service, User: in.User, Domain: in.Domain,
		SourceUID: in.SourceUID, SourceAction: in.SourceAction, Data: []byte{}, Body: body, CreatedAt: created.Truncate(time.Second)}, nil
}

func (p *Publisher) checkAccount(ctx context.Context, id string) error {
	if _, ok := p.accounts.Load(id); ok {
		return nil
	}
	if _, err := p.Store.GetAccount(ctx, id); err != nil {
		return err
	}
	p.accounts.Store(id, struct{}{})
	return nil
}

// NewEventID returns a fresh event id: "evt_" + 32 hex characters (128 random bits).
func NewEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return "evt_" + hex.EncodeToString(b[:])
}
