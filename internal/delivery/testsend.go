package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// SendNow makes one attempt of c at once, outside the queue, and records its
// outcome: the path of test sends (store.CreateTestDelivery). The attempt is
// made even if the webhook is disabled — checking an endpoint before enabling
// it is the point — and a failure is final, not retried. A test does not
// count towards the webhook's health, so it cannot auto-disable it.
func (e *Engine) SendNow(ctx context.Context, c *store.Claim) (*store.Outcome, error) {
	cp := *c
	cp.Enabled = cp.URL != ""
	o := e.attempt(&cp)
	if o.Status == store.StatusRetry {
		o.Status, o.NextAttemptAt = store.StatusFailed, time.Time{}
	}
	o.WebhookUUID, o.DisableReason = "", ""
	if _, err := e.st.CompleteDeliveries(ctx, []*store.Outcome{o}); err != nil {
		return o, fmt.Errorf("record test delivery: %w", err)
	}
	return o, nil
}
