package client

import (
	"context"
	"iter"
)

// Webhooks ranges over every webhook of the account, oldest first, fetching
// pages of pageSize (0: the server's default) as the loop goes. An error
// ends the sequence with a zero Webhook and the error.
//
//	for w, err := range c.Webhooks(ctx, 0) {
//		if err != nil { return err }
//		fmt.Println(w.Name)
//	}
func (c *Client) Webhooks(ctx context.Context, pageSize int) iter.Seq2[Webhook, error] {
	return func(yield func(Webhook, error) bool) {
		cursor := ""
		for {
			page, err := c.ListWebhooksPage(ctx, pageSize, cursor)
			if err != nil {
				yield(Webhook{}, err)
				return
			}
			for _, w := range page.Webhooks {
				if !yield(w, nil) {
					return
				}
			}
			if page.NextCursor == "" || page.NextCursor == cursor {
				return
			}
			cursor = page.NextCursor
		}
	}
}

// Events ranges over every delivery record q matches, newest first, paging
// with q's Limit (default 50) from q's Offset. An error ends the sequence
// with a zero EventRecord and the error. Records added while the loop runs
// can shift the pages: a record may be seen twice or, at the end, missed.
func (c *Client) Events(ctx context.Context, q QueryRequest) iter.Seq2[EventRecord, error] {
	return func(yield func(EventRecord, error) bool) {
		offset := 0
		if q.Offset != nil {
			offset = *q.Offset
		}
		for {
			q.Offset = &offset
			page, err := c.QueryEvents(ctx, q)
			if err != nil {
				yield(EventRecord{}, err)
				return
			}
			for _, e := range page.Events {
				if !yield(e, nil) {
					return
				}
			}
			offset += len(page.Events)
			if len(page.Events) == 0 || offset >= page.Total {
				return
			}
		}
	}
}
