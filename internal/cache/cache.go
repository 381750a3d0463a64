// Package cache keeps the two reads every API request makes — the account an
// API key belongs to, and the webhook a request names — in memory for a short
// time, in front of any store.Store.
//
// A point read costs SQLite a read transaction (file locks, a WAL lookup)
// that is several times what the rest of a GET costs, and PostgreSQL a round
// trip. Both answers change rarely, and every change made through this process
// goes through the wrapper, which forgets what it changed as soon as the write
// returns. What the wrapper cannot see is a change made by another process or
// node: an `accounts rotate-key` run beside a server, or an update through
// another node on the same PostgreSQL. Those are seen within TTL; that bound is
// the trade, and why the server turns webhook caching on by default only where
// one process owns the database (SQLite).
//
// A fill that raced with an invalidation is dropped rather than stored (a
// generation counter), so a stale value never outlives the write that made it
// stale. Not-found answers are never cached.
package cache

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// Options tune the cache.
type Options struct {
	// KeyTTL is how long an API key's account is served from memory (0: not
	// cached). It bounds how long a key revoked by another process or node
	// keeps working here.
	KeyTTL time.Duration
	// WebhookTTL is how long a webhook is served from memory (0: not cached).
	// It bounds how stale a GET may be after a change made through another
	// process or node.
	WebhookTTL time.Duration
	// MaxEntries caps each table (default 10,000); when one is full an
	// arbitrary entry makes room.
	MaxEntries int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Wrap returns st with AccountByKeyHash and GetWebhook cached as opts say.
// With both TTLs zero it returns st itself. Backends that can wake other
// nodes keep that ability.
func Wrap(st store.Store, opts Options) store.Store {
	if opts.KeyTTL <= 0 && opts.WebhookTTL <= 0 {
		return st
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 10_000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &cached{Store: st, opts: opts,
		keys:  table[*store.Account]{m: map[string]entry[*store.Account]{}},
		hooks: table[*store.Webhook]{m: map[string]entry[*store.Webhook]{}}}
	if w, ok := st.(store.Waker); ok {
		return &cachedWaker{cached: c, waker: w}
	}
	return c
}

type cached struct {
	store.Store
	opts  Options
	keys  table[*store.Account] // by string(key hash)
	hooks table[*store.Webhook] // by uuid
}

type cachedWaker struct {
	*cached
	waker store.Waker
}

func (c *cachedWaker) Wakeups(ctx context.Context) (<-chan struct{}, error) {
	return c.waker.Wakeups(ctx)
}

// Unwrap returns the underlying store.
func (c *cached) Unwrap() store.Store { return c.Store }

type entry[V any] struct {
	v       V
	expires time.Time
}

// table is one map with its invalidation generation.
type table[V any] struct {
	mu  sync.RWMutex
	gen uint64
	m   map[string]entry[V]
}

func (t *table[V]) get(k string, now time.Time) (V, bool) {
	t.mu.RLock()
	e, ok := t.m[k]
	t.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (t *table[V]) generation() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.gen
}

// put stores v unless something was invalidated since gen was read: the value
// may then predate that write.
func (t *table[V]) put(k string, v V, gen uint64, expires time.Time, max int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen != gen {
		return
	}
	if _, ok := t.m[k]; !ok && len(t.m) >= max {
		for old := range t.m {
			delete(t.m, old)
			break
		}
	}
	t.m[k] = entry[V]{v: v, expires: expires}
}

// forget drops the entries match selects (nil: all) and bumps the generation
// so fills already under way are not stored.
func (t *table[V]) forget(match func(k string, v V) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.gen++
	if match == nil {
		clear(t.m)
		return
	}
	for k, e := range t.m {
		if match(k, e.v) {
			delete(t.m, k)
		}
	}
}

// forgetKey drops one entry, as forget does.
func (t *table[V]) forgetKey(k string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.gen++
	delete(t.m, k)
}

func (c *cached) forgetHook(uuid string) { c.hooks.forgetKey(uuid) }

// AccountByKeyHash implements store.Store, from memory while fresh.
func (c *cached) AccountByKeyHash(ctx context.Context, keyHash []byte) (*store.Account, error) {
	if c.opts.KeyTTL <= 0 {
		return c.Store.AccountByKeyHash(ctx, keyHash)
	}
	now := c.opts.Now()
	if a, ok := c.keys.get(string(keyHash), now); ok {
		return copyAccount(a), nil
	}
	gen := c.keys.generation()
	a, err := c.Store.AccountByKeyHash(ctx, keyHash)
	if err != nil {
		return nil, err
	}
	c.keys.put(string(keyHash), copyAccount(a), gen, now.Add(c.opts.KeyTTL), c.opts.MaxEntries)
	return a, nil
}

// RotateAPIKey implements store.Store; the account's old keys stop working
// here at once.
func (c *cached) RotateAPIKey(ctx context.Context, accountID string, keyHash []byte, now time.Time) error {
	err := c.Store.RotateAPIKey(ctx, accountID, keyHash, now)
	c.keys.forget(func(_ string, a *store.Account) bool { return a.ID == accountID })
	return err
}

// GetWebhook implements store.Store, from memory while fresh.
func (c *cached) GetWebhook(ctx context.Context, accountID, uuid string) (*store.Webhook, error) {
	if c.opts.WebhookTTL <= 0 {
		return c.Store.GetWebhook(ctx, accountID, uuid)
	}
	now := c.opts.Now()
	if w, ok := c.hooks.get(uuid, now); ok {
		if w.AccountID != accountID {
			return nil, store.ErrNotFound // another account's webhook: the same answer the store gives
		}
		return copyWebhook(w), nil
	}
	gen := c.hooks.generation()
	w, err := c.Store.GetWebhook(ctx, accountID, uuid)
	if err != nil {
		return nil, err
	}
	c.hooks.put(uuid, copyWebhook(w), gen, now.Add(c.opts.WebhookTTL), c.opts.MaxEntries)
	return w, nil
}

// The writes below change webhooks; each forgets what it may have changed
// once the write has returned, whether or not it succeeded.

func (c *cached) UpdateWebhook(ctx context.Context, p *store.UpdateWebhookParams) (*store.Webhook, error) {
	defer c.forgetHook(p.UUID)
	return c.Store.UpdateWebhook(ctx, p)
}

func (c *cached) DeleteWebhook(ctx context.Context, accountID, uuid string, now time.Time) error {
	defer c.forgetHook(uuid)
	return c.Store.DeleteWebhook(ctx, accountID, uuid, now)
}

func (c *cached) RotateSecret(ctx context.Context, p *store.RotateSecretParams) (*store.Webhook, error) {
	defer c.forgetHook(p.UUID)
	return c.Store.RotateSecret(ctx, p)
}

func (c *cached) PurgeExpiredSecrets(ctx context.Context, now time.Time) (int, error) {
	n, err := c.Store.PurgeExpiredSecrets(ctx, now)
	if n > 0 || err != nil {
		c.hooks.forget(nil) // which rows changed is not reported; it is rare
	}
	return n, err
}

func (c *cached) DisableFailingWebhooks(ctx context.Context, failingSince, now time.Time) ([]*store.Webhook, error) {
	ws, err := c.Store.DisableFailingWebhooks(ctx, failingSince, now)
	if err != nil {
		c.hooks.forget(nil)
		return ws, err
	}
	for _, w := range ws {
		c.forgetHook(w.UUID)
	}
	return ws, nil
}

// CompleteDeliveries implements store.Store. Outcomes move a webhook's health
// (failing since, disabled on 410): a failed or disabling attempt forgets its
// webhook, and so does a success for a webhook cached as failing. A healthy
// webhook delivering successfully, the common case, stays cached.
func (c *cached) CompleteDeliveries(ctx context.Context, outcomes []*store.Outcome) (int, error) {
	n, err := c.Store.CompleteDeliveries(ctx, outcomes)
	c.forgetAfter(outcomes)
	return n, err
}

// CompleteAndClaim implements store.Handoff, forgetting webhooks as
// CompleteDeliveries does. Over a backend without it nothing is handed off.
func (c *cached) CompleteAndClaim(ctx context.Context, outcomes []*store.Outcome, p *store.ClaimParams) (int, []*store.Claim, error) {
	h, ok := c.Store.(store.Handoff)
	if !ok {
		n, err := c.CompleteDeliveries(ctx, outcomes)
		return n, nil, err
	}
	n, cs, err := h.CompleteAndClaim(ctx, outcomes, p)
	c.forgetAfter(outcomes)
	return n, cs, err
}

// forgetAfter forgets the webhooks whose health outcomes may have moved.
func (c *cached) forgetAfter(outcomes []*store.Outcome) {
	if c.opts.WebhookTTL <= 0 {
		return
	}
	var forgotten []string
	for _, o := range outcomes {
		if !o.Attempted || o.WebhookUUID == "" || slices.Contains(forgotten, o.WebhookUUID) {
			continue
		}
		if o.Status == store.StatusSuccess && o.DisableReason == "" {
			// Any cached entry, fresh or not: now is the zero time.
			if w, ok := c.hooks.get(o.WebhookUUID, time.Time{}); !ok || w.FailingSince.IsZero() {
				continue
			}
		}
		c.forgetHook(o.WebhookUUID)
		forgotten = append(forgotten, o.WebhookUUID)
	}
}

func copyAccount(a *store.Account) *store.Account {
	cp := *a
	cp.Users, cp.Domains = slices.Clone(a.Users), slices.Clone(a.Domains)
	return &cp
}

func copyWebhook(w *store.Webhook) *store.Webhook {
	cp := *w
	cp.Events = slices.Clone(w.Events)
	cp.FilterUsers, cp.FilterDomains = slices.Clone(w.FilterUsers), slices.Clone(w.FilterDomains)
	cp.Headers = store.CloneHeaders(w.Headers)
	return &cp
}

var _ store.Handoff = (*cached)(nil)
