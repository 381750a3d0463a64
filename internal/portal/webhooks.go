package portal

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jetwebhooks/jetwebhooks/gen/models"
	"github.com/jetwebhooks/jetwebhooks/nullable"
	"github.com/jetwebhooks/jetwebhooks/server/store"
)

// webhookAnswer is the API's answer about one webhook. Its secret decodes
// into models.Webhook's optional one, so one view serves lists and gets.
type webhookAnswer struct {
	Webhook models.Webhook `json:"webhook"`
}

// hookView is a webhook as the pages show it.
type hookView struct {
	models.Webhook
	ID      string
	Enabled bool
	// Delivery counts over the last day, for the success rate.
	Total, Succeeded, Failed int
	Rate                     string
}

func newHookView(w models.Webhook) *hookView {
	w.Headers = headerNamesOnly(w.Headers) // values never reach a template
	return &hookView{Webhook: w, ID: w.UUID.String(), Enabled: w.Status == models.WebhookStatusEnabled}
}

// ControlsText describes the delivery controls (ordering, rate limit), or
// is empty for a webhook without them. They are set through the API or the
// CLI; the portal shows them.
func (h *hookView) ControlsText() string {
	var parts []string
	if h.Ordering != nil && *h.Ordering == models.OrderingFIFO {
		parts = append(parts, "in order (FIFO), one at a time; a failing delivery holds back the ones behind it")
	}
	if h.RateLimit != nil && *h.RateLimit > 0 {
		parts = append(parts, "at most "+strconv.Itoa(*h.RateLimit)+" per second")
	}
	return strings.Join(parts, "; ")
}

func (h *hookView) FilterUsersText() string   { return listText(h.FilterUsers) }
func (h *hookView) FilterDomainsText() string { return listText(h.FilterDomains) }
func (h *hookView) EventNames() []string {
	out := make([]string, len(h.Events))
	for i, e := range h.Events {
		out[i] = string(e)
	}
	return out
}
func (h *hookView) DisabledReasonText() string {
	v, _ := h.DisabledReason.Get()
	return v
}
func (h *hookView) PreviousSecretUntil() int64 {
	v, _ := h.PreviousSecretExpiresAt.Get()
	return v
}
func (h *hookView) SecretText() string {
	if h.Secret == nil {
		return ""
	}
	return *h.Secret
}

func listText(v nullable.Nullable[[]string]) string {
	l, err := v.Get()
	if err != nil {
		return ""
	}
	return strings.Join(l, ", ")
}

// form is the create/edit form as submitted, kept to show it again with
// the API's field errors.
type form struct {
	Name, URL, FilterUsers, FilterDomains string
	Events                                []string
	Enabled                               bool
	Errors                                map[string]string
	Message                               string
}

func readForm(r *http.Request) *form {
	f := &form{
		Name: r.PostFormValue("name"), URL: strings.TrimSpace(r.PostFormValue("url")),
		FilterUsers: r.PostFormValue("filter_users"), FilterDomains: r.PostFormValue("filter_domains"),
		Events: r.PostForm["events"], Enabled: r.PostFormValue("enabled") == "1",
	}
	if f.Events == nil {
		f.Events = []string{}
	}
	return f
}

func formFrom(h *hookView) *form {
	return &form{Name: h.Name, URL: h.URL, FilterUsers: h.FilterUsersText(), FilterDomains: h.FilterDomainsText(),
		Events: h.EventNames(), Enabled: h.Enabled}
}

// splitList reads "a, b c" as a filter list; blank is nil (all).
func splitList(s string) []string {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
	if len(fields) == 0 {
		return nil
	}
	return fields
}

func (f *form) events() []models.SubscribableEventType {
	out := make([]models.SubscribableEventType, len(f.Events))
	for i, e := range f.Events {
		out[i] = models.SubscribableEventType(e)
	}
	return out
}

func filterValue(s string) nullable.Nullable[models.FilterList] {
	l := splitList(s)
	if l == nil {
		return nullable.NewNullNullable[models.FilterList]()
	}
	return nullable.NewNullableWithValue(models.FilterList(l))
}

// fieldHints are the spec's words for each form field.
func (p *Portal) formData(s *session, f *form) map[string]any {
	return map[string]any{"Form": f, "EventTypes": subscribableTypes(), "Hints": fieldHints(),
		"Users": s.acc.Users, "Domains": s.acc.Domains}
}

// endpoints lists the account's webhooks with their recent success rate.
func (p *Portal) endpoints(w http.ResponseWriter, r *http.Request, s *session) {
	var list models.WebhookListResponse
	if err := p.call(r, s, http.MethodGet, "/webhooks", nil, &list); err != nil {
		p.apiFailed(w, r, s, err)
		return
	}
	since := p.cfg.Now().Add(-24 * time.Hour)
	hooks := make([]*hookView, len(list.Webhooks))
	for i, wh := range list.Webhooks {
		h := newHookView(wh)
		if err := p.fillRate(r, s, h, since); err != nil {
			p.internal(w, r, err)
			return
		}
		hooks[i] = h
	}
	p.render(w, r, http.StatusOK, "endpoints", s, map[string]any{"Title": "Endpoints", "Hooks": hooks})
}

// fillRate counts the webhook's deliveries of events since since.
func (p *Portal) fillRate(r *http.Request, s *session, h *hookView, since time.Time) error {
	count := func(status string) (int, error) {
		_, n, err := p.cfg.Store.QueryDeliveries(r.Context(), &store.QueryParams{AccountID: s.acc.ID, WebhookUUID: h.ID, Status: status, From: &since})
		return n, err
	}
	var err error
	if h.Total, err = count(""); err != nil {
		return err
	}
	if h.Succeeded, err = count(store.StatusSuccess); err != nil {
		return err
	}
	if h.Failed, err = count(store.StatusFailed); err != nil {
		return err
	}
	if done := h.Succeeded + h.Failed; done > 0 {
		h.Rate = strconv.Itoa(h.Succeeded*100/done) + " %"
	}
	return nil
}

func (p *Portal) newWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	data := p.formData(s, &form{Enabled: true, Events: []string{string(models.SubscribableEventTypeOutboundDelivered)}})
	data["Title"] = "New endpoint"
	p.render(w, r, http.StatusOK, "new", s, data)
}

func (p *Portal) createWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	f := readForm(r)
	status := models.StatusInputDisabled
	if f.Enabled {
		status = models.StatusInputEnabled
	}
	body := models.CreateWebhookRequest{Name: f.Name, URL: f.URL, Events: f.events(), Status: &status}
	if l := splitList(f.FilterUsers); l != nil {
		body.FilterUsers = nullable.NewNullableWithValue(models.FilterList(l))
	}
	if l := splitList(f.FilterDomains); l != nil {
		body.FilterDomains = nullable.NewNullableWithValue(models.FilterList(l))
	}
	var out models.WebhookResponse
	if err := p.call(r, s, http.MethodPost, "/webhooks", body, &out); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
			f.Errors, f.Message = ae.Fields, ae.Message
			data := p.formData(s, f)
			data["Title"] = "New endpoint"
			p.render(w, r, http.StatusBadRequest, "new", s, data)
			return
		}
		p.apiFailed(w, r, s, err)
		return
	}
	p.redirect(w, r, "/webhooks/"+out.Webhook.UUID.String(), "created")
}

// getHook reads one webhook of the session's account through the API: any
// id that is not one of the account's is the same 404.
func (p *Portal) getHook(w http.ResponseWriter, r *http.Request, s *session) (*hookView, bool) {
	id := r.PathValue("id")
	if !isUUID(id) {
		p.fail(w, r, s, http.StatusNotFound, "There is no such endpoint.")
		return nil, false
	}
	var out webhookAnswer
	if err := p.call(r, s, http.MethodGet, "/webhooks/"+id, nil, &out); err != nil {
		p.apiFailed(w, r, s, err)
		return nil, false
	}
	return newHookView(out.Webhook), true
}

func (p *Portal) webhook(w http.ResponseWriter, r *http.Request, s *session) {
	h, ok := p.getHook(w, r, s)
	if !ok {
		return
	}
	p.showWebhook(w, r, s, h, formFrom(h), http.StatusOK)
}

func (p *Portal) showWebhook(w http.ResponseWriter, r *http.Request, s *session, h *hookView, f *form, status int) {
	now := p.cfg.Now()
	if err := p.fillRate(r, s, h, now.Add(-24*time.Hour)); err != nil {
		p.internal(w, r, err)
		return
	}
	st, err := p.hookStats(r, s, h.ID, now)
	if err != nil {
		p.internal(w, r, err)
		return
	}
	data := p.formData(s, f)
	data["Title"] = h.Name
	data["Hook"] = h
	data["Stats"] = st
	data["Reveal"] = r.Method == http.MethodGet && r.URL.Query().Get("reveal") == "secret"
	p.render(w, r, status, "webhook", s, data)
}

func (p *Portal) updateWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	h, ok := p.getHook(w, r, s)
	if !ok {
		return
	}
	f := readForm(r)
	f.Enabled = h.Enabled
	ev := models.EventList(f.events())
	body := models.UpdateWebhookRequest{UUID: h.UUID, Name: &f.Name, URL: &f.URL, Events: &ev,
		FilterUsers: filterValue(f.FilterUsers), FilterDomains: filterValue(f.FilterDomains)}
	if err := p.call(r, s, http.MethodPatch, "/webhooks", body, nil); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
			f.Errors, f.Message = ae.Fields, ae.Message
			p.showWebhook(w, r, s, h, f, http.StatusBadRequest)
			return
		}
		p.apiFailed(w, r, s, err)
		return
	}
	p.redirect(w, r, "/webhooks/"+h.ID, "saved")
}

func (p *Portal) setStatus(w http.ResponseWriter, r *http.Request, s *session) {
	h, ok := p.getHook(w, r, s)
	if !ok {
		return
	}
	on := r.PostFormValue("status") == "1"
	st, notice := models.StatusInputDisabled, "disabled"
	if on {
		st, notice = models.StatusInputEnabled, "enabled"
	}
	if err := p.call(r, s, http.MethodPatch, "/webhooks", models.UpdateWebhookRequest{UUID: h.UUID, Status: &st}, nil); err != nil {
		p.apiFailed(w, r, s, err)
		return
	}
	p.redirect(w, r, "/webhooks/"+h.ID, notice)
}

func (p *Portal) deleteWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	h, ok := p.getHook(w, r, s)
	if !ok {
		return
	}
	if err := p.call(r, s, http.MethodDelete, "/webhooks/"+h.ID, nil, nil); err != nil {
		p.apiFailed(w, r, s, err)
		return
	}
	p.redirect(w, r, "/", "deleted")
}

func (p *Portal) rotateSecret(w http.ResponseWriter, r *http.Request, s *session) {
	h, ok := p.getHook(w, r, s)
	if !ok {
		return
	}
	grace, err := strconv.Atoi(r.PostFormValue("grace"))
	if err != nil {
		grace = 86400
	}
	if err := p.call(r, s, http.MethodPost, "/webhooks/"+h.ID+"/rotate-secret", models.RotateSecretRequest{GracePeriod: &grace}, nil); err != nil {
		p.apiFailed(w, r, s, err)
		return
	}
	// Redirect, so that reloading the page shows the new secret again
	// instead of rotating once more.
	p.redirect(w, r, "/webhooks/"+h.ID+"?reveal=secret", "rotated")
}

func (p *Portal) testSend(w http.ResponseWriter, r *http.Request, s *session) {
	h, ok := p.getHook(w, r, s)
	if !ok {
		return
	}
	typ := models.SubscribableEventType(r.PostFormValue("event_type"))
	var out models.TestDeliveryResponse
	if err := p.call(r, s, http.MethodPost, "/webhooks/"+h.ID+"/test", models.TestDeliveryRequest{EventType: &typ}, &out); err != nil {
		p.apiFailed(w, r, s, err)
		return
	}
	code, _ := out.StatusCode.Get()
	msg, _ := out.Error.Get()
	body := ""
	if out.ResponseBody != nil {
		body = *out.ResponseBody
	}
	p.render(w, r, http.StatusOK, "tested", s, map[string]any{"Title": "Test sent", "Hook": h, "Result": out,
		"Code": code, "Error": msg, "Body": body})
}

// apiFailed shows an API refusal in the API's words; other errors are
// internal.
func (p *Portal) apiFailed(w http.ResponseWriter, r *http.Request, s *session, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		msg := ae.Message
		if ae.Status == http.StatusNotFound && strings.HasPrefix(msg, "Webhook not found") {
			msg = "There is no such endpoint."
		}
		p.fail(w, r, s, ae.Status, msg)
		return
	}
	p.internal(w, r, err)
}

// isUUID reports whether s is a uuid in its 8-4-4-4-12 hex form (uuid.Validate
// alone also takes the braced, urn: and undashed forms).
func isUUID(s string) bool { return len(s) == 36 && uuid.Validate(s) == nil }
