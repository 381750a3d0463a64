package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// maxGroupEvents caps the events one group commit writes.
const maxGroupEvents = 2000

// soloEvents: a request this large is a batch already; grouping it with
// others only makes the writer's transaction longer, so it commits alone.
const soloEvents = 50

// groupCommitTimeout bounds one group's transaction; it does not follow any
// single caller's context, since the group commits other callers' events too.
const groupCommitTimeout = 30 * time.Second

// commitReq is one Publish call waiting for its events to be committed.
type commitReq struct {
	events []*store.Event
	now    time.Time
	done   chan commitRes
}

type commitRes struct {
	results []store.PublishResult
	err     error
}

// commit stores events, sharing a transaction with the Publish calls running
// at the same time (group commit): the first caller to arrive becomes the
// leader and commits everything queued meanwhile, so a stream of single-event
// requests costs one transaction — one fsync — per group, not per event. Each
// caller still gets its own results, and its own error: a group that fails is
// retried call by call, so one bad request cannot fail the others.
func (p *Publisher) commit(ctx context.Context, events []*store.Event, now time.Time) ([]store.PublishResult, error) {
	if len(events) > soloEvents {
		return p.Store.PublishEvents(ctx, events, now)
	}
	r := &commitReq{events: events, now: now, done: make(chan commitRes, 1)}
	p.mu.Lock()
	p.pending = append(p.pending, r)
	if p.leading {
		p.mu.Unlock()
		// The leader commits this request with its group; waiting regardless
		// of ctx keeps the answer true (the events may already be stored).
		res := <-r.done
		return res.results, res.err
	}
	p.leading = true
	for {
		batch, n := p.pending, 0
		i := 0
		for ; i < len(batch); i++ {
			if n > 0 && n+len(batch[i].events) > maxGroupEvents {
				break
			}
			n += len(batch[i].events)
		}
		group := batch[:i]
		p.pending = batch[i:]
		if len(group) == 0 {
			p.leading = false
			p.mu.Unlock()
			break
		}
		p.mu.Unlock()
		results := p.flush(ctx, group)
		for i, r := range group {
			r.done <- results[i]
		}
		p.mu.Lock()
	}
	res := <-r.done
	return res.results, res.err
}

// flush commits a group in one transaction, or, if that fails, each request
// on its own so that errors stay with the request that caused them. It
// returns one result per request; a panic in the store becomes an error for
// every request of the group, so no caller is left waiting.
func (p *Publisher) flush(ctx context.Context, group []*commitReq) (out []commitRes) {
	out = make([]commitRes, len(group))
	defer func() {
		if rec := recover(); rec != nil {
			for i := range out {
				out[i] = commitRes{err: fmt.Errorf("publish: store panicked: %v", rec)}
			}
		}
	}()
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), groupCommitTimeout)
	defer cancel()
	if len(group) == 1 {
		res, err := p.Store.PublishEvents(gctx, group[0].events, group[0].now)
		out[0] = commitRes{res, err}
		return out
	}
	var all []*store.Event
	for _, r := range group {
		all = append(all, r.events...)
	}
	// One clock for the group: its deliveries are due at the same instant.
	res, err := p.Store.PublishEvents(gctx, all, group[len(group)-1].now)
	if err != nil {
		for i, r := range group {
			res, err := p.Store.PublishEvents(gctx, r.events, r.now)
			out[i] = commitRes{res, err}
		}
		return out
	}
	off := 0
	for i, r := range group {
		out[i] = commitRes{results: res[off : off+len(r.events)]}
		off += len(r.events)
	}
	return out
}
