package server

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/swaggest/swgui/v5emb"

	"github.com/jetwebhooks/jetwebhooks"
	"github.com/jetwebhooks/jetwebhooks/gen/apiserver"
	"github.com/jetwebhooks/jetwebhooks/internal/api"
)

// mountOps adds the operational routes beside the API: health, readiness,
// the spec and its rendered documentation, and (unless they have a listener
// of their own) the metrics. None of them needs an API key.
func (s *Server) mountOps(e *echo.Echo) error {
	base := s.cfg.BasePath
	e.GET(base+"/readyz", func(c echo.Context) error {
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
	e.GET(base+"/openapi.json", func(c echo.Context) error { return c.Blob(http.StatusOK, "application/json", asJSON) })
	e.GET(base+"/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", jetwebhooks.OpenAPI)
	})
	// Swagger UI's assets are embedded in the swgui module: no CDN at run time.
	docs := v5emb.New(spec.Info.Title, base+"/openapi.json", base+"/docs/")
	e.GET(base+"/docs", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, base+"/docs/") })
	e.GET(base+"/docs/*", ownErrors(docs))
	if s.cfg.MetricsAddr == "" && s.cfg.MetricsListener == nil {
		e.GET(base+"/metrics", echo.WrapHandler(s.metrics.Handler()))
	}
	return nil
}

// metricsOnly is the handler of the metrics' own listener: /metrics, and
// every other path or method answered in the API's JSON error shape.
func (s *Server) metricsOnly() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = api.ErrorHandler(s.log)
	h := echo.WrapHandler(s.metrics.Handler())
	e.GET("/metrics", h)
	e.HEAD("/metrics", h)
	return e
}

// ownErrors serves h, a library's handler, but hands its error answers (say
// the file server's text/plain "404 page not found" for /docs/../x) to the
// API's error handler, so they come in the JSON error shape like every
// other error. h's headers are held back until it answers a success, so none
// of its error headers (text/plain, nosniff) leak into the JSON answer.
func ownErrors(h http.Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		w := &errorCatcher{rw: c.Response(), header: http.Header{}}
		h.ServeHTTP(w, c.Request())
		if w.status != 0 {
			return echo.NewHTTPError(w.status)
		}
		return nil
	}
}

// errorCatcher passes a success through and swallows an error answer,
// keeping only its status.
type errorCatcher struct {
	rw      http.ResponseWriter
	header  http.Header
	started bool
	status  int // the error status h answered, 0 if none
}

func (w *errorCatcher) Header() http.Header { return w.header }

func (w *errorCatcher) WriteHeader(code int) {
	if w.started || w.status != 0 {
		return
	}
	if code >= 400 {
		w.status = code
		return
	}
	w.started = true
	for k, v := range w.header {
		w.rw.Header()[k] = v
	}
	w.rw.WriteHeader(code)
}

func (w *errorCatcher) Write(p []byte) (int, error) {
	if !w.started && w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.status != 0 {
		return len(p), nil
	}
	return w.rw.Write(p)
}
