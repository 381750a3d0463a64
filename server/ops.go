package server

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/swaggest/swgui/v5emb"

	"github.com/jetwebhooks/jetwebhooks"
	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
)

// mountOps adds the operational routes beside the API: health, readiness,
// the spec and its rendered documentation, and (unless they have a listener
// of their own) the metrics. None of them needs an API key.
func (s *Server) mountOps(e *echo.Echo) error {
	e.GET("/readyz", func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := s.store.Ping(ctx); err != nil {
			s.log.Warn("readiness check failed", "err", err)
			return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "database": "unreachable"})
		}
		return c.JSON(http.StatusOK, map[string]any{"status": "ok", "database": "ok"})
	})
	spec, err := apiserver.GetSpec()
	if err != nil {
		return err
	}
	// The spec is served as written: openapi.yaml's own bytes, and the same
	// document in JSON (the generated code's copy is re-encoded: other
	// operationIds, 1e+06 for integers).
	asJSON, err := specJSON(jetwebhooks.OpenAPI)
	if err != nil {
		return err
	}
	e.GET("/openapi.json", func(c echo.Context) error { return c.Blob(http.StatusOK, "application/json", asJSON) })
	e.GET("/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", jetwebhooks.OpenAPI)
	})
	// Swagger UI's assets are embedded in the swgui module: no CDN at run time.
	docs := v5emb.New(spec.Info.Title, "/openapi.json", "/docs/")
	e.GET("/docs", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/docs/") })
	e.GET("/docs/*", echo.WrapHandler(docs))
	if s.cfg.MetricsAddr == "" && s.cfg.MetricsListener == nil {
		e.GET("/metrics", echo.WrapHandler(s.metrics.Handler()))
	}
	return nil
}
