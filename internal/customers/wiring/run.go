package wiring

import (
	"context"
)

// Run starts the service of settings and serves until ctx is done (a signal, in
// main) or the HTTP server fails, then shuts it down gracefully within
// the shutdown timeout of settings (or of the config file's section).
func Run(ctx context.Context, settings Settings) error {
	srv, err := New(ctx, settings)
	if err != nil {
		return err
	}
	var failure error
	select {
	case <-ctx.Done():
	case failure = <-srv.Failed():
		srv.log.Error("customers: the HTTP server failed; shutting down", "err", failure)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), srv.settings.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if failure != nil {
		return failure
	}
	return err
}
