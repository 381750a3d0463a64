package api

import (
	"context"
	"net/http"
	"time"
)

// replayNotFound is the 404 of a replay that matched nothing. Event ids are
// random or chosen by the sender, so an unknown id cannot be dated; what the
// service can tell is whether retention has deleted any of the account's
// history, and up to when, and it says so.
func (h handlers) replayNotFound(ctx context.Context, accountID string) error {
	through, err := h.store.PurgedThrough(ctx, accountID)
	if err != nil || through.IsZero() {
		// The watermark only improves the message: without it the answer
		// is still a correct 404.
		return newError(http.StatusNotFound, "No delivered event matches; nothing to replay.")
	}
	return newError(http.StatusNotFound, "No delivered event matches; nothing to replay. It may be past retention: this account's events created up to "+
		through.UTC().Format(time.RFC3339)+" have been deleted once all their deliveries finished.")
}
