package server

import "github.com/labstack/echo/v4"

// EchoForTest is the API's router, for this package's external tests that
// mount test-only routes on it (the API itself is internal).
func (s *Server) EchoForTest() *echo.Echo { return s.api.Echo() }
