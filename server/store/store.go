// Package store is the storage contract of jetwebhooks: the one interface every
// backend (SQLite, PostgreSQL) implements, its row and parameter types, and its
// sentinel errors. It imports nothing but the standard library so that backends,
// the API and the delivery engine can all depend on it without cycles.
//
// Contract notes that every backend must honour (storetest checks them):
//   - Every method is scoped by account where the caller is a tenant: an account
//     never reads or changes another account's rows, and a foreign row is
//     reported as ErrNotFound, exactly like a missing one.
//   - Times are stored at millisecond precision and returned in UTC.
//   - PublishEvents writes events and their deliveries in one transaction.
//   - A delivery is claimed with a lease: ClaimDeliveries pushes its next attempt
//     time forward by the lease and bumps its claim sequence. CompleteDeliveries
//     applies an outcome only if the claim sequence still matches, so a worker
//     whose lease expired and was taken over cannot overwrite the new owner.
//     Completing bumps the sequence too, so an outcome applies at most once.
//
// Most programs never call a Store themselves: they open one of the two
// backends (sqlitestore.Open, pgstore.Open) and hand it to server.New. A new
// backend implements Store (and, where it can, Waker, Sizer and
// QueueVacuumer) and proves it by running the conformance suite from its own
// tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openFreshStore(t) })
//	}
package store

import (
	"bytes"
	"context"
	"errors"
	"sort"
	"time"
)

// Sentinel errors. Backends translate their driver errors into these; callers
// test them with errors.Is.
var (
	// ErrNotFound reports a missing row, or a row of another account.
	ErrNotFound = errors.New("not found")
	// ErrConflict reports a uniqueness violation the caller can act on.
	ErrConflict = errors.New("conflict")
	// ErrLeaseLost reports an Idempotency-Key reservation that is no longer
	// held by the request trying to finish it: its lease ran out and a
	// retry took the key over.
	ErrLeaseLost = errors.New("idempotency reservation no longer held")
	// ErrClosed reports use of a store after Close.
	ErrClosed = errors.New("store closed")
)

// Delivery statuses, as the API reports them.
const (
	// StatusPending: queued, no attempt made yet in the current schedule.
	StatusPending = "pending"
	// StatusRetry: at least one attempt failed and another is scheduled.
	StatusRetry = "retry"
	// StatusSuccess: a receiver answered 2xx.
	StatusSuccess = "success"
	// StatusFailed: failed permanently or dead-lettered after the last attempt.
	StatusFailed = "failed"
)

// Account is a tenant: it owns API keys, webhooks and events.
type Account struct {
	ID   string
	Name string
	// Users are the sending usernames (transactional keys, smarthosts) the account
	// owns; filter_users may only name these.
	Users []string
	// Domains are the inbound domains the account owns; filter_domains may only
	// name these.
	Domains   []string
	CreatedAt time.Time
}

// CreateAccountParams creates an account with its first API key.
type CreateAccountParams struct {
	ID      string
	Name    string
	Users   []string
	Domains []string
	// KeyHash is the SHA-256 of the API key; the key itself is never stored.
	KeyHash []byte
	Now     time.Time
}

// Webhook is a subscription of an account to event types.
type Webhook struct {
	UUID      string
	AccountID string
	Name      string
	URL       string
	Secret    string
	Events    []string
	Enabled   bool
	// FilterUsers and FilterDomains are nil for "all".
	FilterUsers   []string
	FilterDomains []string
	CreatedAt     time.Time
	LastModified  time.Time
	// PreviousSecret is the secret the last rotation replaced; deliveries are
	// signed with it too until PreviousSecretExpiresAt (zero: none).
	PreviousSecret          string
	PreviousSecretExpiresAt time.Time
	// DisabledReason and DisabledAt say why and when the service disabled the
	// webhook by itself (410 Gone, or failing for too long); empty/zero when
	// it was not. Enabling it through UpdateWebhook clears them.
	DisabledReason string
	DisabledAt     time.Time
	// FailingSince is the first failed attempt since the last success (zero
	// while healthy).
	FailingSince time.Time
	// Headers are the custom headers (name → value) sent with every
	// delivery; nil when there are none (an empty map is stored as none).
	// Backends store and return them as given: names as spelled, values
	// opaque (the secretbox wrapper seals each value, so a backend holds
	// only ciphertext); the API checks them before they get here.
	Headers map[string]string
	// Ordering is OrderingFIFO or OrderingUnordered ("" reads as unordered).
	Ordering string
	// RateLimit caps attempts to the webhook per second, across nodes (0:
	// no limit).
	RateLimit int
}

// ListWebhooksParams pages through an account's webhooks, oldest first.
type ListWebhooksParams struct {
	AccountID string
	// Limit caps the page (0: no cap).
	Limit int
	// AfterCreated and AfterUUID continue after that webhook (exclusive);
	// zero AfterCreated starts at the beginning.
	AfterCreated time.Time
	AfterUUID    string
}

// RotateSecretParams replaces a webhook's secret, keeping the old one valid
// until PreviousExpiresAt (at or before Now: not kept at all).
type RotateSecretParams struct {
	AccountID         string
	UUID              string
	Secret            string
	PreviousExpiresAt time.Time
	Now               time.Time
}

// IdempotencyLease names one reservation of an Idempotency-Key: its scope and
// key, and the token of the request holding it. Finishing and releasing check
// the token, so a request whose lease ran out, and whose key a retry took
// over, can no longer record or erase anything.
type IdempotencyLease struct {
	Scope string
	Key   string
	// Token is chosen by the reserving request (random, unique per request).
	Token string
}

// ReserveIdempotencyParams reserves an Idempotency-Key for one request.
type ReserveIdempotencyParams struct {
	IdempotencyLease
	RequestHash []byte
	Now         time.Time
	// LeaseUntil bounds the reservation: an unfinished record whose lease
	// has passed belongs to a request that died (process killed, database
	// gone, client gone), and a retry with the same request hash takes it
	// over instead of being refused until the record expires.
	LeaseUntil time.Time
	// Records created before ExpiredBefore are forgotten and replaced.
	ExpiredBefore time.Time
}

// IdempotencyRecord is a stored Idempotency-Key: the hash of the request it
// was first used with and, once finished, the response to replay.
type IdempotencyRecord struct {
	RequestHash []byte
	// Status is 0 while the first request is still being handled.
	Status int
	// Body is the recorded response. It is empty when the response names a
	// resource (ResourceUUID) and is rendered again from current state at
	// replay, so nothing secret is stored with the key.
	Body []byte
	// ResourceUUID is the webhook a finished create made (see CreateWebhook).
	ResourceUUID string
	CreatedAt    time.Time
	// LeaseUntil is when an unfinished reservation may be taken over.
	LeaseUntil time.Time
}

// UpdateWebhookParams changes the given fields of one webhook. Nil pointers and
// nil Events leave a field unchanged; the Set* flags distinguish "leave the
// filter alone" from "set it to nil (all)".
type UpdateWebhookParams struct {
	AccountID        string
	UUID             string
	Name             *string
	URL              *string
	Events           []string
	Enabled          *bool
	SetFilterUsers   bool
	FilterUsers      []string
	SetFilterDomains bool
	FilterDomains    []string
	// Ordering and RateLimit change the delivery controls (nil: unchanged;
	// RateLimit 0 removes the limit).
	Ordering  *string
	RateLimit *int
	Now       time.Time
	// SetHeaders replaces every custom header with Headers (nil or empty:
	// none); false leaves them unchanged.
	SetHeaders bool
	Headers    map[string]string
}

// Event is one occurrence published for delivery.
type Event struct {
	ID           string
	AccountID    string
	Type         string
	Service      string
	User         string
	Domain       string
	SourceUID    string
	SourceAction string
	// Data is the event's data object as JSON. It may be empty when Body is
	// an envelope whose last member is "data" (what ingest builds): the data
	// is then stored once, inside Body, and QueryDeliveries returns Body's
	// data member (see EnvelopeData).
	Data []byte
	// Body is the exact envelope delivered and signed.
	Body      []byte
	CreatedAt time.Time
}

// PublishResult tells what publishing one event did.
type PublishResult struct {
	EventID    string
	Deliveries int
	// Duplicate is true when the account already had an event with this id;
	// nothing was written for it.
	Duplicate bool
}

// ClaimParams asks for up to Limit due deliveries.
type ClaimParams struct {
	// Owner names the claiming worker (node id), for diagnostics.
	Owner string
	Limit int
	Now   time.Time
	// Lease is how long the claim holds before another worker may take the
	// delivery over.
	Lease time.Duration
}

// Claim is a delivery handed to a worker, with everything needed to attempt it.
type Claim struct {
	DeliveryID int64
	ClaimSeq   int64
	// Status is the delivery's status when claimed: StatusPending or StatusRetry.
	Status      string
	EventID     string
	AccountID   string
	WebhookUUID string
	// URL and Secret are the webhook's current ones; Enabled false (or a deleted
	// webhook, reported with an empty URL) means the attempt must not be made.
	URL     string
	Secret  string
	Enabled bool
	Body    []byte
	// Secrets are the signing secrets, newest first: Secret, then the
	// previous one while its rotation grace period lasts.
	Secrets []string
	// Attempt is the number of this attempt within the current schedule (1-based).
	Attempt int
	// TakenOver is true when the delivery's previous lease had expired unfinished.
	TakenOver bool
	// Headers are the webhook's current custom headers (nil: none), sent
	// with the attempt before the service's own.
	Headers map[string]string
	// HeadersUnusable is set by a wrapper that could not open a header
	// value (sealed with a key that is not configured): the attempt must
	// fail rather than go out without the header or with its ciphertext.
	HeadersUnusable bool
	// Gated is true for a delivery of a webhook with delivery controls
	// (ordering fifo or a rate limit) when it was queued: the engine copies
	// it to the outcome so the store can move the webhook's queue on.
	Gated bool
	// Replay is true when a replay has queued this delivery again (for a
	// controlled webhook, after what was already queued): the request says so.
	Replay bool
	// NotBefore, when set, is when the attempt may start: the slot a
	// rate-limited webhook's pace gave a claim made a little ahead of it
	// (see PaceAhead). The engine waits until then.
	NotBefore time.Time
	// Pace, for a claim of a rate-limited webhook, is the least time between
	// two of its attempts (PaceInterval): the engine also keeps its own
	// starts this far apart, so that a worker that wakes late for its slot
	// does not bunch up with the next.
	Pace time.Duration
}

// Outcome is the result of one attempt, applied by CompleteDeliveries.
type Outcome struct {
	DeliveryID int64
	ClaimSeq   int64
	// WebhookUUID is the claim's webhook; its health (FailingSince) follows
	// the attempt.
	WebhookUUID string
	// DisableReason, when set, disables the webhook at once (HTTP 410 Gone).
	DisableReason string
	// Status is the delivery's new status: StatusSuccess, StatusRetry or
	// StatusFailed — or, with Attempted false, the claim's own Status to put
	// the delivery back untouched (deferred) until NextAttemptAt.
	Status string
	// NextAttemptAt is when to try again (StatusRetry and StatusPending).
	NextAttemptAt time.Time
	// Attempted is false when no request was sent (webhook disabled or deleted):
	// the status changes but no attempt is recorded.
	Attempted  bool
	URL        string
	At         time.Time
	Duration   time.Duration
	StatusCode int
	// ErrorClass is one of the ErrorClass* constants for a failed attempt,
	// empty for a successful one (or one that never got to send a request).
	ErrorClass   string
	Error        string
	ResponseBody string
	// Gated is the claim's Gated: a finished gated delivery lets the next
	// one of its webhook go (see ReleaseHeld semantics in the backends).
	Gated bool
	// SlowDown is set when the receiver answered 429: a rate-limited webhook
	// then runs at half its rate for SlowDownFor, and no attempt is made to
	// it before PauseUntil (its Retry-After, zero: none).
	SlowDown   bool
	PauseUntil time.Time
}

// Delivery orderings of a webhook.
const (
	// OrderingUnordered: deliveries go concurrently, in no particular order.
	OrderingUnordered = "unordered"
	// OrderingFIFO: deliveries go one at a time, in ingest order.
	OrderingFIFO = "fifo"
)

// OrderingOf returns w's ordering as a backend stores it: "" (a webhook
// created without the setting) is OrderingUnordered.
func OrderingOf(w *Webhook) string {
	if w.Ordering == "" {
		return OrderingUnordered
	}
	return w.Ordering
}

// MaxRateLimit is the highest rate_limit accepted, in deliveries per second.
const MaxRateLimit = 1000

// SlowDownFor is how long a 429 answer halves a rate-limited webhook's pace.
const SlowDownFor = time.Minute

// Controlled reports whether a webhook's deliveries are gated: ordered, or
// rate-limited. Deliveries of other webhooks take the ungated fast path.
func Controlled(w *Webhook) bool {
	return w.Ordering == OrderingFIFO || w.RateLimit > 0
}

// PaceInterval is the least time between two attempts to a webhook of rate
// rate (per second), in whole milliseconds rounded up so that the limit is
// never exceeded; doubled while slowed by a 429.
func PaceInterval(rate int, slowed bool) time.Duration {
	if rate <= 0 {
		return 0
	}
	d := time.Duration((1000+rate-1)/rate) * time.Millisecond
	if slowed {
		d *= 2
	}
	return d
}

// PaceAhead is how long before its slot a rate-limited webhook's delivery
// may be claimed, for attempts interval apart: claims are then made in
// batches, a little early, and each attempt starts at its slot
// (Claim.NotBefore), so the pace is kept exactly instead of losing the
// claimer's lateness at every attempt. At most about eight slots ahead, and
// never more than 100 ms.
func PaceAhead(interval time.Duration) time.Duration {
	return min(100*time.Millisecond, 8*interval)
}

// AdmitPaced decides a claim of a rate-limited webhook, made at now (Unix
// ms), against the webhook's pace tat, for attempts interval ms apart. An
// admitted claim (ok) gets its NotBefore (when claimed ahead of its slot)
// and Pace, and the pace moves to next; both backends' claims call it, so
// they admit alike.
func AdmitPaced(c *Claim, tat, now, interval int64) (next int64, ok bool) {
	if tat > now+PaceAhead(time.Duration(interval)*time.Millisecond).Milliseconds() {
		return tat, false
	}
	start := max(tat, now)
	if start > now {
		c.NotBefore = time.UnixMilli(start).UTC()
	}
	c.Pace = time.Duration(interval) * time.Millisecond
	return start + interval, true
}

// RefusedDueAt is when a claim the pace refused is due again (Unix ms): a
// little ahead of the webhook's next free slot tat, the waiting-th (from 0)
// of the claims refused for the webhook in one batch one interval later
// each.
func RefusedDueAt(tat, interval, waiting int64) int64 {
	return tat - PaceAhead(time.Duration(interval)*time.Millisecond).Milliseconds() + waiting*interval
}

// ReleaseWindow is how many deliveries of a controlled webhook may be
// released (scheduled, in flight or retrying) at once: one for a FIFO
// webhook, about one second's worth for a rate-limited one.
func ReleaseWindow(w *Webhook) int {
	if w.Ordering == OrderingFIFO {
		return 1
	}
	return max(1, w.RateLimit)
}

// Error classes: why an attempt failed, from a small fixed set that the API
// documents. The delivery engine assigns them (in one place); storage only
// keeps them.
const (
	// ErrorClassTimeout: no complete answer within the attempt timeout.
	ErrorClassTimeout = "timeout"
	// ErrorClassConnectionRefused: the receiver's host refused the connection.
	ErrorClassConnectionRefused = "connection_refused"
	// ErrorClassConnectionFailed: the connection failed otherwise (reset,
	// closed before an answer, host or network unreachable).
	ErrorClassConnectionFailed = "connection_failed"
	// ErrorClassTLS: the TLS handshake or certificate verification failed.
	ErrorClassTLS = "tls"
	// ErrorClassDestinationRefused: the name does not resolve, or the egress
	// policy refuses the address it resolves to. One class for both on
	// purpose, so the history is no oracle for internal names.
	ErrorClassDestinationRefused = "destination_refused"
	// ErrorClassHTTPStatus: the receiver answered with a non-2xx, non-3xx status.
	ErrorClassHTTPStatus = "http_status"
	// ErrorClassRedirect: the receiver answered 3xx; redirects are not followed.
	ErrorClassRedirect = "redirect"
	// ErrorClassResponseTooLarge: the receiver answered 2xx with a body
	// larger than the engine reads.
	ErrorClassResponseTooLarge = "response_too_large"
)

// QueryParams filters the delivery history of one account. Empty strings and nil
// pointers do not filter.
type QueryParams struct {
	AccountID   string
	WebhookUUID string
	EventID     string
	EventType   string
	SourceUID   string
	Status      string
	// From and To bound the event's creation time, inclusive.
	From, To *time.Time
	Limit    int
	Offset   int
}

// DeliveryRecord is one event × webhook of the history.
type DeliveryRecord struct {
	DeliveryID       int64
	EventID          string
	WebhookUUID      string
	Service          string
	EventType        string
	SourceUID        string
	SourceAction     string
	Data             []byte
	WebhookURL       string
	CreatedAt        time.Time
	Status           string
	Attempts         int
	LastResponseCode *int
	// LastAttempt is the delivery's most recent recorded attempt (nil before
	// the first).
	LastAttempt *Attempt
	// Replayed is true once a replay (ReplayDeliveries) has queued the
	// delivery again, whatever the webhook's controls; it is never cleared.
	Replayed bool
}

// Attempt is one recorded HTTP attempt of a delivery.
type Attempt struct {
	DeliveryID int64
	// Number is the attempt's position among the delivery's recorded
	// attempts, oldest first, from 1 (across replays).
	Number     int
	At         time.Time
	Duration   time.Duration
	StatusCode int
	// ErrorClass is one of the ErrorClass* constants, or empty (success, or
	// no request could be made).
	ErrorClass   string
	Error        string
	ResponseBody string
}

// ListDeliveryAttemptsParams pages through the attempts of one delivery,
// named as the API names it: the event and the webhook it went to.
type ListDeliveryAttemptsParams struct {
	AccountID   string
	WebhookUUID string
	EventID     string
	// AfterNumber continues after that attempt number (0: from the first).
	AfterNumber int
	// Limit caps the page (0: no cap).
	Limit int
}

// ReplayParams re-queues past deliveries. Exactly one of EventID and SourceUID
// is set; WebhookUUID optionally narrows it to one webhook.
type ReplayParams struct {
	AccountID   string
	EventID     string
	SourceUID   string
	WebhookUUID string
	Now         time.Time
}

// ReplayResult tells what a replay re-queued.
type ReplayResult struct {
	// EventID is the replayed event (the newest, for a source_uid replay).
	EventID    string
	Deliveries int
}

// PortalLink is a single-use sign-in link to the customer portal, minted for
// one account by the operator's backend. Only the SHA-256 of its token is
// stored: a database dump holds no usable link.
type PortalLink struct {
	TokenHash []byte
	AccountID string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// PortalSession is a signed-in portal session of one account. Only the
// SHA-256 of its id (the cookie's value) is stored. It ends at ExpiresAt
// whatever happens, or earlier when idle past IdleExpiresAt.
type PortalSession struct {
	IDHash        []byte
	AccountID     string
	CreatedAt     time.Time
	LastSeenAt    time.Time
	IdleExpiresAt time.Time
	ExpiresAt     time.Time
}

// TouchPortalSessionParams looks up a session at Now and, if it is still
// valid, records the visit: LastSeenAt becomes Now and IdleExpiresAt
// IdleUntil (never past ExpiresAt).
type TouchPortalSessionParams struct {
	IDHash    []byte
	Now       time.Time
	IdleUntil time.Time
}

// PurgeParams selects the history one PurgeHistory call deletes. The unit is
// the event: an event goes, with all its deliveries and their attempts, when
// it was created before Before and every delivery of it is finished (success
// or failed) and last changed before Before. Nothing of an event with a
// pending or retrying delivery, or one finished (or replayed) since Before, is
// deleted.
type PurgeParams struct {
	// Before is the retention horizon (now minus the retention).
	Before time.Time
	// Limit caps the events one call deletes, so that one batch holds the
	// database's write locks only briefly.
	Limit int
}

// PurgeResult counts the rows one PurgeHistory call deleted, by table.
type PurgeResult struct {
	Events, Deliveries, Attempts int
	// Busy is true when another node was purging at that moment (PostgreSQL:
	// one node purges at a time), so this call deleted nothing.
	Busy bool
}

// QueueStats summarises the delivery queue for metrics and benchmarks.
type QueueStats struct {
	Due       int64
	Scheduled int64
	Dead      int64
	// OldestDue is the next-attempt time of the oldest due delivery (zero if none).
	OldestDue time.Time
}

// Store is the storage contract. Implementations are safe for concurrent use.
type Store interface {
	// CreateAccount stores a new account and its first key hash.
	CreateAccount(ctx context.Context, p *CreateAccountParams) (*Account, error)
	// ListAccounts returns every account, oldest first.
	ListAccounts(ctx context.Context) ([]*Account, error)
	// GetAccount returns one account by id.
	GetAccount(ctx context.Context, id string) (*Account, error)
	// RotateAPIKey replaces every API key of the account with the one whose
	// hash is given: the old keys stop working at once.
	RotateAPIKey(ctx context.Context, accountID string, keyHash []byte, now time.Time) error
	// AccountByKeyHash resolves an API key's SHA-256 to its account.
	AccountByKeyHash(ctx context.Context, keyHash []byte) (*Account, error)

	// CreateWebhook stores w (UUID, account and times set by the caller).
	// With a non-nil idem, the same transaction finishes that reservation
	// (status 200, ResourceUUID w.UUID, no body), so a create and the record
	// of its answer commit together; if the reservation is no longer held
	// by idem.Token nothing is stored and the error is ErrLeaseLost.
	CreateWebhook(ctx context.Context, w *Webhook, idem *IdempotencyLease) error
	// GetWebhook returns one webhook of the account.
	GetWebhook(ctx context.Context, accountID, uuid string) (*Webhook, error)
	// ListWebhooks returns a page of the account's webhooks, oldest first.
	ListWebhooks(ctx context.Context, p *ListWebhooksParams) ([]*Webhook, error)
	// UpdateWebhook applies p and returns the updated webhook. Enabling a
	// webhook clears DisabledReason, DisabledAt and FailingSince.
	UpdateWebhook(ctx context.Context, p *UpdateWebhookParams) (*Webhook, error)
	// DeleteWebhook removes a webhook and cancels its undelivered deliveries
	// (they become failed); its history stays queryable.
	DeleteWebhook(ctx context.Context, accountID, uuid string, now time.Time) error

	// RotateSecret replaces the secret (see RotateSecretParams).
	RotateSecret(ctx context.Context, p *RotateSecretParams) (*Webhook, error)
	// PurgeExpiredSecrets erases previous secrets whose grace period ended
	// at or before now, so they are gone from storage.
	PurgeExpiredSecrets(ctx context.Context, now time.Time) (int, error)
	// DisableFailingWebhooks disables enabled webhooks failing since at or
	// before failingSince, with a reason, and returns them. In the same
	// transaction it releases their held (FIFO or rate-limited) deliveries,
	// due at now, as disabling by UpdateWebhook does.
	DisableFailingWebhooks(ctx context.Context, failingSince, now time.Time) ([]*Webhook, error)

	// PublishEvents stores the events and one pending delivery per matching
	// webhook (see Matches), all in one transaction, due at now.
	PublishEvents(ctx context.Context, events []*Event, now time.Time) ([]PublishResult, error)
	// ClaimDeliveries leases up to p.Limit due deliveries, oldest due first.
	ClaimDeliveries(ctx context.Context, p *ClaimParams) ([]*Claim, error)
	// CompleteDeliveries applies outcomes whose claim is still current and
	// returns how many were applied.
	CompleteDeliveries(ctx context.Context, outcomes []*Outcome) (int, error)
	// CreateTestDelivery stores e and one delivery of it to the webhook (of
	// e's account), enabled or not, and returns it already claimed (ClaimSeq
	// current, never due for the engine): the caller attempts it at once and
	// completes it.
	CreateTestDelivery(ctx context.Context, e *Event, webhookUUID string, now time.Time) (*Claim, error)
	// NextDueAt returns the earliest next-attempt time of any undelivered
	// delivery; ok is false when there is none.
	NextDueAt(ctx context.Context) (t time.Time, ok bool, err error)

	// QueryDeliveries searches an account's history, newest first, and returns
	// the page and the total number of matches.
	QueryDeliveries(ctx context.Context, p *QueryParams) ([]*DeliveryRecord, int, error)
	// ListAttempts returns a delivery's attempts, oldest first.
	ListAttempts(ctx context.Context, accountID string, deliveryID int64) ([]*Attempt, error)
	// ListDeliveryAttempts returns a page of the attempts of the account's
	// delivery of p.EventID to p.WebhookUUID, oldest first; ErrNotFound when
	// the account has no such delivery (the webhook may since be deleted).
	ListDeliveryAttempts(ctx context.Context, p *ListDeliveryAttemptsParams) ([]*Attempt, error)
	// ReplayDeliveries re-queues the matching deliveries whose webhook still
	// exists with a fresh schedule, marked as replays (DeliveryRecord.Replayed,
	// Claim.Replay) whatever the webhook's controls; ErrNotFound when nothing
	// matches.
	ReplayDeliveries(ctx context.Context, p *ReplayParams) (*ReplayResult, error)

	// PutSettingIfAbsent stores value under key unless the key exists, and
	// returns what is stored afterwards and whether this call stored it. Nodes
	// starting at once agree on one value (first start's generated secrets).
	PutSettingIfAbsent(ctx context.Context, key string, value []byte) (stored []byte, created bool, err error)
	// GetSetting returns the value stored under key, or ErrNotFound.
	GetSetting(ctx context.Context, key string) ([]byte, error)
	// PutSetting stores value under key, replacing any value there (a
	// rotated ingest token's hash).
	PutSetting(ctx context.Context, key string, value []byte) error

	// ReserveIdempotencyKey claims p's key for the request holding p.Token.
	// It returns nil if this call now holds it: the key was free, or its
	// record was unfinished, past its lease and made with the same request
	// hash (the request that reserved it died). Otherwise it returns the
	// record there: finished, still leased, or made with another request.
	ReserveIdempotencyKey(ctx context.Context, p *ReserveIdempotencyParams) (*IdempotencyRecord, error)
	// FinishIdempotencyKey stores the response of a reservation still held
	// by lease; ErrLeaseLost (nothing stored) when it is not.
	FinishIdempotencyKey(ctx context.Context, lease IdempotencyLease, status int, body []byte) error
	// ReleaseIdempotencyKey forgets an unfinished reservation held by lease
	// (the request failed in a way worth retrying); a no-op otherwise.
	ReleaseIdempotencyKey(ctx context.Context, lease IdempotencyLease) error
	// PurgeIdempotencyKeys deletes records created before before.
	PurgeIdempotencyKeys(ctx context.Context, before time.Time) (int, error)

	// CreatePortalLink stores a sign-in link of l.AccountID; ErrNotFound
	// when the account does not exist.
	CreatePortalLink(ctx context.Context, l *PortalLink) error
	// RedeemPortalLink consumes the link whose token hashes to tokenHash
	// and, in the same transaction, stores session s for the link's account
	// (s.AccountID is set from the link). A link redeems once: unknown,
	// already used or expired at s.CreatedAt are all ErrNotFound.
	RedeemPortalLink(ctx context.Context, tokenHash []byte, s *PortalSession) (*PortalSession, error)
	// TouchPortalSession returns the session (see TouchPortalSessionParams);
	// ErrNotFound when it is unknown, revoked or expired.
	TouchPortalSession(ctx context.Context, p *TouchPortalSessionParams) (*PortalSession, error)
	// DeletePortalSession ends one session (logout); a no-op when it is gone.
	DeletePortalSession(ctx context.Context, idHash []byte) error
	// RevokePortalSessions ends every session of the account and forgets its
	// unused links; it returns how many sessions it ended.
	RevokePortalSessions(ctx context.Context, accountID string) (int, error)
	// PurgePortalSessions deletes links and sessions expired at now.
	PurgePortalSessions(ctx context.Context, now time.Time) (int, error)

	// PurgeHistory deletes one batch of history past retention (see
	// PurgeParams): at most p.Limit events, each with all its deliveries and
	// their attempts, and records the newest purged creation time per account
	// (PurgedThrough).
	PurgeHistory(ctx context.Context, p *PurgeParams) (*PurgeResult, error)
	// PurgedThrough returns the newest creation time of the account's events
	// PurgeHistory has deleted (zero: none yet).
	PurgedThrough(ctx context.Context, accountID string) (time.Time, error)
	// OldestEventAt returns the creation time of the oldest stored event; ok
	// is false when there is none.
	OldestEventAt(ctx context.Context) (t time.Time, ok bool, err error)

	// QueueStats summarises the queue at now.
	QueueStats(ctx context.Context, now time.Time) (*QueueStats, error)
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// Matches reports whether an event is to be delivered to a webhook: the webhook
// is enabled, subscribes to the type, and its filter for the event's direction
// (users for outbound, domains for inbound) is nil or names the event's user or
// domain. Backends call it during PublishEvents so fan-out is decided in one
// place.
func Matches(w *Webhook, e *Event) bool {
	if !w.Enabled || !contains(w.Events, e.Type) {
		return false
	}
	switch e.Service {
	case "outbound":
		return w.FilterUsers == nil || contains(w.FilterUsers, e.User)
	case "inbound":
		return w.FilterDomains == nil || containsFold(w.FilterDomains, e.Domain)
	}
	return true
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// containsFold compares domains case-insensitively: DNS names are.
func containsFold(list []string, v string) bool {
	for _, s := range list {
		if len(s) == len(v) && equalFoldASCII(s, v) {
			return true
		}
	}
	return false
}

func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Waker is implemented by backends that can tell every node at once that
// deliveries became due (PostgreSQL's LISTEN/NOTIFY), so an event published on
// one node is picked up at once by whichever node is free. The delivery engine
// uses it when present and falls back to polling otherwise.
type Waker interface {
	// Wakeups returns a channel that receives a value (coalesced; never
	// blocking the sender) whenever some node publishes or replays deliveries.
	// The channel is closed when ctx ends.
	Wakeups(ctx context.Context) (<-chan struct{}, error)
}

// Handoff is implemented by backends whose completions can claim, in the
// completion's own transaction, the deliveries it moves up: the next
// delivery of each FIFO queue (without a rate limit) whose head it finished.
// The engine then attempts them at once, instead of waking its claimer for
// a transaction of their own, which is what bounds a FIFO webhook's pace
// (one delivery per round trip). Both bundled backends implement it; a
// backend that does not is driven through CompleteDeliveries and
// ClaimDeliveries alone.
type Handoff interface {
	// CompleteAndClaim is CompleteDeliveries, and it also claims, for
	// p.Owner with lease p.Lease at p.Now, at most p.Limit of the
	// deliveries that the applied outcomes release from FIFO queues; the
	// others are released (due at once) as CompleteDeliveries would. Claims
	// are what ClaimDeliveries would have returned for them.
	CompleteAndClaim(ctx context.Context, outcomes []*Outcome, p *ClaimParams) (int, []*Claim, error)
}

// HealthUpdate is the net effect of a batch of applied outcomes on one
// webhook's health.
type HealthUpdate struct {
	WebhookUUID string
	// Healthy: the last attempt in the batch succeeded (clear FailingSince).
	// Otherwise FailedAt is the first failure after the batch's last success
	// (set FailingSince if it is not set yet).
	Healthy  bool
	FailedAt time.Time
	// DisableReason disables the webhook at DisableAt.
	DisableReason string
	DisableAt     time.Time
}

// HealthUpdates reduces applied outcomes to at most one update per webhook,
// sorted by uuid so that concurrent writers lock webhook rows in the same
// order. Backends call it so health follows attempts the same way everywhere;
// outcomes without an attempt or a webhook do not count.
func HealthUpdates(applied []*Outcome) []HealthUpdate {
	ordered := make([]*Outcome, len(applied))
	copy(ordered, applied)
	sort.SliceStable(ordered, func(i, j int) bool { return ordered[i].At.Before(ordered[j].At) })
	byHook := map[string]*HealthUpdate{}
	for _, o := range ordered {
		if !o.Attempted || o.WebhookUUID == "" {
			continue
		}
		h := byHook[o.WebhookUUID]
		if h == nil {
			h = &HealthUpdate{WebhookUUID: o.WebhookUUID}
			byHook[o.WebhookUUID] = h
		}
		if o.Status == StatusSuccess {
			h.Healthy, h.FailedAt = true, time.Time{}
		} else {
			if h.Healthy || h.FailedAt.IsZero() {
				h.FailedAt = o.At
			}
			h.Healthy = false
		}
		if o.DisableReason != "" {
			h.DisableReason, h.DisableAt = o.DisableReason, o.At
		}
	}
	out := make([]HealthUpdate, 0, len(byHook))
	for _, h := range byHook {
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].WebhookUUID < out[j].WebhookUUID })
	return out
}

// SigningSecrets lists the secrets a claim signs with, newest first: the
// current one, then the previous one while its grace period lasts ("" when
// there is none). Backends build Claim.Secrets with it.
func SigningSecrets(current, previous string) []string {
	if current == "" {
		return nil
	}
	if previous == "" {
		return []string{current}
	}
	return []string{current, previous}
}

// QueueVacuumer is implemented by backends whose delivery queue (and the
// retention purge) leaves dead row versions behind that slow the claim and
// hold disk until they are cleaned (PostgreSQL). The server calls it often; it cleans only when enough has
// piled up, on one node at a time.
type QueueVacuumer interface {
	// VacuumQueue cleans the queue if it needs it and reports whether it did.
	VacuumQueue(ctx context.Context) (bool, error)
}

// Sizer is implemented by backends that can tell how much disk their
// database takes, for the jetwebhooks_database_size_bytes metric and the
// soak benchmark.
type Sizer interface {
	// DatabaseSize returns the database's size on disk in bytes: SQLite's
	// file and its write-ahead log, PostgreSQL's pg_database_size.
	DatabaseSize(ctx context.Context) (int64, error)
}

// envelopeDataKey precedes the data member of an envelope.
var envelopeDataKey = []byte(`,"data":`)

// EnvelopeData returns the data member of an envelope as ingest builds it,
// {"id":…,"service":…,"type":…,"created_at":…,"data":{…}}: the bytes after
// the first `,"data":` up to the closing brace. The members before it are an
// id of [A-Za-z0-9_-], fixed names and a number, which cannot contain that
// text. It returns nil for anything else.
func EnvelopeData(body []byte) []byte {
	i := bytes.Index(body, envelopeDataKey)
	if i < 0 || body[len(body)-1] != '}' {
		return nil
	}
	return body[i+len(envelopeDataKey) : len(body)-1]
}
