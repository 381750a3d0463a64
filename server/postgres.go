package server

import (
	"context"

	"github.com/jetwebhooks/jetwebhooks/server/store"
	"github.com/jetwebhooks/jetwebhooks/server/store/pgstore"
)

func openPostgres(ctx context.Context, dsn string) (store.Store, error) {
	return pgstore.Open(ctx, dsn, pgstore.Options{})
}
