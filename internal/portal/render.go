package portal

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

// notices are the messages a redirect may ask a page to show, by key: the
// URL names a key, never the text, so a crafted link cannot put words on
// the portal's pages.
var notices = map[string]string{
	"created":  "Endpoint created.",
	"saved":    "Changes saved.",
	"enabled":  "Endpoint enabled.",
	"disabled": "Endpoint disabled.",
	"deleted":  "Endpoint deleted.",
	"replayed": "Queued for delivery again.",
	"rotated":  "Secret rotated. This is the new one.",
}

var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"unix": func(sec int64) string {
		if sec == 0 {
			return "—"
		}
		return time.Unix(sec, 0).UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"ms": func(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) },
	"has": func(list []string, v string) bool {
		for _, s := range list {
			if s == v {
				return true
			}
		}
		return false
	},
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
}

// parsePages parses every page with the layout and the shared partials,
// one template set per page.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || strings.HasPrefix(base, "_") {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/_*.html", n)
		if err != nil {
			return nil, fmt.Errorf("portal: parse %s: %w", n, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// render writes page with data, plus what every page needs: the portal's
// base path, the account, the CSRF token and a notice.
func (p *Portal) render(w http.ResponseWriter, r *http.Request, status int, page string, s *session, data map[string]any) {
	t, ok := p.pages[page]
	if !ok {
		p.log.Error("portal: no such page template", "page", page)
		http.Error(w, "Internal error", http.StatusInternalServerError)
		return
	}
	if data == nil {
		data = map[string]any{}
	}
	data["Base"] = p.base
	data["Page"] = page
	if s != nil {
		data["Account"] = s.acc
		data["CSRF"] = s.csrf
	}
	if n, ok := notices[r.URL.Query().Get("notice")]; ok && r.Method == http.MethodGet {
		data["Notice"] = n
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		p.log.Error("portal: render", "page", page, "err", err)
		http.Error(w, "Internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
