package secretbox

import (
	"context"
	"fmt"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// Wrap returns st with webhook secrets sealed by box on every write and opened
// on every read. Backends that can wake other nodes keep that ability.
func Wrap(st store.Store, box *Box) store.Store {
	s := &sealed{Store: st, box: box}
	if w, ok := st.(store.Waker); ok {
		return &sealedWaker{sealed: s, waker: w}
	}
	return s
}

type sealed struct {
	store.Store
	box *Box
}

type sealedWaker struct {
	*sealed
	waker store.Waker
}

func (s *sealedWaker) Wakeups(ctx context.Context) (<-chan struct{}, error) {
	return s.waker.Wakeups(ctx)
}

// Unwrap returns the underlying store (tests inspect what is really stored).
func (s *sealed) Unwrap() store.Store { return s.Store }

func (s *sealed) open(w *store.Webhook) error {
	plain, err := s.box.Open(w.Secret)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.UUID, err)
	}
	w.Secret = plain
	if w.PreviousSecret != "" {
		if w.PreviousSecret, err = s.box.Open(w.PreviousSecret); err != nil {
			return fmt.Errorf("webhook %s: previous secret: %w", w.UUID, err)
		}
	}
	if w.Headers, err = s.openHeaders(w.Headers); err != nil {
		return fmt.Errorf("webhook %s: %w", w.UUID, err)
	}
	return nil
}

// openClaim opens a claim's secrets. One that cannot be opened is dropped:
// the engine then fails the attempt visibly rather than sign with ciphertext.
func (s *sealed) openClaim(c *store.Claim) {
	// Headers that cannot be opened fail the attempt as well (the engine
	// checks HeadersUnusable): sending without them, or with ciphertext,
	// would be a delivery the receiver did not ask for.
	if h, err := s.openHeaders(c.Headers); err != nil {
		c.Headers, c.HeadersUnusable = nil, true
	} else {
		c.Headers = h
	}
	plain, err := s.box.Open(c.Secret)
	if err != nil {
		c.Secret, c.Secrets = "", nil
		return
	}
	c.Secret = plain
	opened := make([]string, 0, len(c.Secrets))
	for _, sec := range c.Secrets {
		if p, err := s.box.Open(sec); err == nil {
			opened = append(opened, p)
		}
	}
	c.Secrets = opened
}

func (s *sealed) RotateSecret(ctx context.Context, p *store.RotateSecretParams) (*store.Webhook, error) {
	sealedSecret, err := s.box.Seal(p.Secret)
	if err != nil {
		return nil, err
	}
	cp := *p
	cp.Secret = sealedSecret
	w, err := s.Store.RotateSecret(ctx, &cp)
	if err != nil {
		return nil, err
	}
	return w, s.open(w)
}

// openAll opens every webhook a listing call returned.
func (s *sealed) openAll(ws []*store.Webhook, err error) ([]*store.Webhook, error) {
	if err != nil {
		return nil, err
	}
	for _, w := range ws {
		if err := s.open(w); err != nil {
			return nil, err
		}
	}
	return ws, nil
}

func (s *sealed) DisableFailingWebhooks(ctx context.Context, failingSince, now time.Time) ([]*store.Webhook, error) {
	return s.openAll(s.Store.DisableFailingWebhooks(ctx, failingSince, now))
}

func (s *sealed) CreateTestDelivery(ctx context.Context, e *store.Event, webhookUUID string, now time.Time) (*store.Claim, error) {
	c, err := s.Store.CreateTestDelivery(ctx, e, webhookUUID, now)
	if err != nil {
		return nil, err
	}
	s.openClaim(c)
	return c, nil
}

func (s *sealed) CreateWebhook(ctx context.Context, w *store.Webhook, idem *store.IdempotencyLease) error {
	sealedSecret, err := s.box.Seal(w.Secret)
	if err != nil {
		return err
	}
	cp := *w
	cp.Secret = sealedSecret
	if cp.Headers, err = s.sealHeaders(w.Headers); err != nil {
		return err
	}
	return s.Store.CreateWebhook(ctx, &cp, idem)
}

func (s *sealed) GetWebhook(ctx context.Context, accountID, uuid string) (*store.Webhook, error) {
	w, err := s.Store.GetWebhook(ctx, accountID, uuid)
	if err != nil {
		return nil, err
	}
	return w, s.open(w)
}

func (s *sealed) ListWebhooks(ctx context.Context, p *store.ListWebhooksParams) ([]*store.Webhook, error) {
	return s.openAll(s.Store.ListWebhooks(ctx, p))
}

func (s *sealed) UpdateWebhook(ctx context.Context, p *store.UpdateWebhookParams) (*store.Webhook, error) {
	if p.SetHeaders {
		sealedHeaders, err := s.sealHeaders(p.Headers)
		if err != nil {
			return nil, err
		}
		cp := *p
		cp.Headers = sealedHeaders
		p = &cp
	}
	w, err := s.Store.UpdateWebhook(ctx, p)
	if err != nil {
		return nil, err
	}
	return w, s.open(w)
}

// CompleteAndClaim implements store.Handoff, opening the claims as
// ClaimDeliveries does. Over a backend without it nothing is handed off: the
// completion releases what it moves up, and the claimer takes it.
func (s *sealed) CompleteAndClaim(ctx context.Context, outcomes []*store.Outcome, p *store.ClaimParams) (int, []*store.Claim, error) {
	h, ok := s.Store.(store.Handoff)
	if !ok {
		n, err := s.Store.CompleteDeliveries(ctx, outcomes)
		return n, nil, err
	}
	n, cs, err := h.CompleteAndClaim(ctx, outcomes, p)
	if err != nil {
		return 0, nil, err
	}
	for _, c := range cs {
		s.openClaim(c)
	}
	return n, cs, nil
}

func (s *sealed) ClaimDeliveries(ctx context.Context, p *store.ClaimParams) ([]*store.Claim, error) {
	cs, err := s.Store.ClaimDeliveries(ctx, p)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		s.openClaim(c)
	}
	return cs, nil
}

var _ store.Handoff = (*sealed)(nil)
