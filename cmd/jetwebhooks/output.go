package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetwebhooks/jetwebhooks/client"
)

// Output formats of the commands that talk to the API.
const (
	outputTable = "table"
	outputJSON  = "json"
)

// printer writes a command's result as a table for people or as JSON for
// programs.
type printer struct {
	w      io.Writer
	format string
	tty    bool // stdout is a terminal: long cells may be shortened
}

// newPrinter checks --output and returns the printer for cmd's stdout.
func newPrinter(cmd *cobra.Command, format string) (*printer, error) {
	switch format {
	case outputTable, outputJSON:
	default:
		return nil, usagef("--output: %q is not table or json", format)
	}
	w := cmd.OutOrStdout()
	return &printer{w: w, format: format, tty: isTerminal(w)}, nil
}

func (p *printer) json() bool { return p.format == outputJSON }

// printJSON writes v as indented JSON followed by a newline.
func (p *printer) printJSON(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table returns a tabwriter on stdout; the caller writes tab-separated rows
// and calls Flush.
func (p *printer) table() *tabwriter.Writer {
	return tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
}

// cell shortens s to n runes when stdout is a terminal; piped output keeps
// every value whole.
func (p *printer) cell(s string, n int) string {
	if !p.tty {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// unixTime formats unix seconds for a table; 0 is shown as "-".
func unixTime(sec int64) string {
	if sec == 0 {
		return "-"
	}
	return time.Unix(sec, 0).Format(time.RFC3339)
}

// cliError carries the exit code of a failure; run() returns it.
type cliError struct {
	code int
	msg  string
	err  error
}

func (e *cliError) Error() string { return e.msg }
func (e *cliError) Unwrap() error { return e.err }
func (e *cliError) exitCode() int { return e.code }

// classify turns an error from the client into one that run() maps to an
// exit code: exitAPI when the server answered outside 2xx (with the server's
// message), exitNetwork when it could not be reached, exitFailure otherwise.
// Every occurrence of a value in secrets is removed from the message, so a
// key can never leak through an error text.
func classify(err error, baseURL string, secrets ...string) error {
	if err == nil {
		return nil
	}
	var ue usageError
	if errors.As(err, &ue) {
		return err
	}
	var out *cliError
	var apiErr *client.Error
	var urlErr *url.Error
	var netErr net.Error
	switch {
	case errors.As(err, &apiErr):
		out = &cliError{code: exitAPI, msg: apiMessage(apiErr), err: err}
	case errors.Is(err, context.Canceled):
		out = &cliError{code: exitFailure, msg: "interrupted", err: err}
	case errors.As(err, &urlErr):
		out = &cliError{code: exitNetwork, msg: fmt.Sprintf("could not reach the server at %s: %v", baseURL, urlErr.Err), err: err}
	case errors.As(err, &netErr):
		out = &cliError{code: exitNetwork, msg: fmt.Sprintf("could not reach the server at %s: %v", baseURL, err), err: err}
	default:
		out = &cliError{code: exitFailure, msg: err.Error(), err: err}
	}
	for _, s := range secrets {
		if s != "" {
			out.msg = strings.ReplaceAll(out.msg, s, "[redacted]")
		}
	}
	return out
}

// apiMessage renders a server error: status, the server's message and the
// offending fields.
func apiMessage(e *client.Error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "the server answered %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Message)
	for _, d := range e.Details {
		switch {
		case d.Field == "":
			fmt.Fprintf(&b, "\n  %s", d.Reason)
		default:
			fmt.Fprintf(&b, "\n  %s: %s", d.Field, d.Reason)
		}
	}
	switch e.StatusCode {
	case http.StatusUnauthorized:
		b.WriteString("\n  (check --api-key / JETWEBHOOKS_API_KEY, or --ingest-token / JETWEBHOOKS_INGEST_TOKEN for send-event)")
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if e.RetryAfter > 0 {
			fmt.Fprintf(&b, "\n  (retry after %s)", e.RetryAfter)
		}
	}
	return b.String()
}
