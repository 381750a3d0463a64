package portal

import (
	"embed"
	"net/http"
	"strings"
)

// Snippets are the signature verification examples of the docs page, one
// per language; the tests run every one whose interpreter is installed
// against signatures the delivery engine's signer makes.
//
//go:embed snippets/*
var Snippets embed.FS

// SecretPlaceholder stands for the endpoint's secret in the snippets.
const SecretPlaceholder = "whsec_REPLACE_WITH_YOUR_SECRET"

// snippetFiles are the docs page's languages, in order.
var snippetFiles = []struct{ Lang, File string }{
	{"Go", "verify.go.txt"}, {"Node.js", "verify.js"}, {"Python", "verify.py"}, {"PHP", "verify.php"}, {"Ruby", "verify.rb"},
}

type snippetView struct {
	Lang, ID, Code string
}

// docs is "how to verify signatures", with an endpoint's secret inserted
// into the code when asked for.
func (p *Portal) docs(w http.ResponseWriter, r *http.Request, s *session) {
	names, err := p.hookNames(r, s)
	if err != nil {
		p.apiFailed(w, r, s, err)
		return
	}
	secret, chosen := SecretPlaceholder, r.URL.Query().Get("webhook")
	if chosen != "" && r.URL.Query().Get("reveal") == "secret" {
		if !isUUID(chosen) {
			p.fail(w, r, s, http.StatusNotFound, "There is no such endpoint.")
			return
		}
		var out webhookAnswer
		if err := p.call(r, s, http.MethodGet, "/webhooks/"+chosen, nil, &out); err != nil {
			p.apiFailed(w, r, s, err)
			return
		}
		if out.Webhook.Secret != nil {
			secret = *out.Webhook.Secret
		}
	}
	views := make([]snippetView, 0, len(snippetFiles))
	for _, f := range snippetFiles {
		b, err := Snippets.ReadFile("snippets/" + f.File)
		if err != nil {
			p.internal(w, r, err)
			return
		}
		id := strings.ToLower(strings.NewReplacer(".", "", " ", "").Replace(f.Lang))
		views = append(views, snippetView{Lang: f.Lang, ID: id, Code: strings.ReplaceAll(string(b), SecretPlaceholder, secret)})
	}
	p.render(w, r, http.StatusOK, "docs", s, map[string]any{"Title": "Verifying signatures", "Snippets": views,
		"Hooks": hookOptions(names), "Chosen": chosen, "Inserted": secret != SecretPlaceholder})
}
