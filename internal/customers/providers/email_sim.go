package providers

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/rampart-go/rampart/auth"
)

// EmailSimOptions configure an [EmailSimulator]. The zero value is a usable
// simulator with a random API key.
type EmailSimOptions struct {
	// APIKey is the key the API requires in X-Api-Key. Zero means a random one;
	// read it with [EmailSimulator.ClientConfig].
	APIKey auth.Secret
	// Faults are injected from the start; see [Faults].
	Faults Faults
	// Seed seeds the draws of the faults. Zero means a random seed.
	Seed uint64
	// Logger records changes of the faults and, at Debug, each injected failure
	// and refused API key (never the key). Nil logs nothing.
	Logger *slog.Logger
}

// EmailStats are what an [EmailSimulator] has done.
type EmailStats struct {
	Stats
	// Messages counts the messages accepted, each once: the e-mails sent.
	Messages int `json:"messages"`
	// Repeats counts the requests for a message already accepted, accepted again
	// without a second e-mail.
	Repeats int `json:"repeats"`
	// Invalid counts the messages refused as invalid.
	Invalid int `json:"invalid"`
	// IDReuses counts the requests refused because their message ID had been used
	// for another message.
	IDReuses int `json:"id_reuses"`
	// AcceptedByMessage counts, per message ID, the requests accepted: the first
	// and its repeats.
	AcceptedByMessage map[string]int `json:"accepted_by_message_id"`
}

// EmailSimulator simulates a transactional e-mail provider whose API requires an
// API key in the X-Api-Key header (401 without the right one).
//
//	POST /v1/messages       {message_id, to, template, data} → 202 {message_id,
//	                        status: "queued", accepted_at}
//	GET  /v1/messages?to=   → 200 {"messages": [...]}, oldest first
//
// A message is sent once per message_id: the same message again is answered 202
// with the first receipt and "Idempotent-Replayed: true"; the same ID with other
// content is 422 [ProblemIdempotencyKeyReused]. An invalid "to" (not a bare
// address with a dotted domain), or a missing message_id or template, is 422
// [ProblemValidation] naming the field.
//
// Faults are injected into the /v1/ routes; the control endpoint is that of
// [PaymentSimulator]. An EmailSimulator is an [http.Handler]; Start serves it on a
// port of its own. It is safe for concurrent use.
type EmailSimulator struct {
	simulator
	key    auth.Secret
	apiKey [32]byte // SHA-256 of key

	mu    sync.Mutex
	byID  map[string]*sentRecord
	order []*sentRecord

	// counters, under mu
	repeats, invalid, idReuses int
}

// sentRecord is an accepted message.
type sentRecord struct {
	msg         SentMessage
	fingerprint [32]byte
	accepted    int // requests accepted: the first and its repeats
}

// NewEmailSimulator returns an e-mail simulator for opts, or an error naming the
// option that is invalid. It does not listen until Start.
func NewEmailSimulator(opts EmailSimOptions) (*EmailSimulator, error) {
	s := &EmailSimulator{key: opts.APIKey, byID: map[string]*sentRecord{}}
	if s.key.IsZero() {
		s.key = auth.NewSecret("sim_" + rand.Text())
	}
	s.apiKey = sha256.Sum256([]byte(s.key.Reveal()))
	if err := s.init("email", opts.Faults, opts.Seed, opts.Logger, func() any { return s.Stats() }); err != nil {
		return nil, err
	}
	s.api.Handle("POST /v1/messages", s.requireKey(s.send))
	s.api.Handle("GET /v1/messages", s.requireKey(s.list))
	return s, nil
}

// ClientConfig returns the configuration of an [EmailClient] of this simulator:
// its URL (empty before Start) and the API key it accepts.
func (s *EmailSimulator) ClientConfig() EmailClientConfig {
	return EmailClientConfig{BaseURL: s.URL(), APIKey: s.key}
}

// Stats returns what the simulator has done so far.
func (s *EmailSimulator) Stats() EmailStats {
	st := EmailStats{Stats: s.stats()}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.Messages, st.Repeats, st.Invalid, st.IDReuses = len(s.order), s.repeats, s.invalid, s.idReuses
	st.AcceptedByMessage = make(map[string]int, len(s.byID))
	for id, rec := range s.byID {
		st.AcceptedByMessage[id] = rec.accepted
	}
	return st
}

// SendCount returns how many requests to send the message with this ID were
// accepted: 1 for a message sent once, more if it was asked for again (it is
// still sent once), 0 if never.
func (s *EmailSimulator) SendCount(messageID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec := s.byID[messageID]; rec != nil {
		return rec.accepted
	}
	return 0
}

// Messages returns the messages accepted, oldest first.
func (s *EmailSimulator) Messages() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SentMessage, len(s.order))
	for i, rec := range s.order {
		out[i] = rec.msg
		out[i].Data = maps.Clone(rec.msg.Data)
	}
	return out
}

// requireKey checks the X-Api-Key header in constant time.
func (s *EmailSimulator) requireKey(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("X-Api-Key")
		if key == "" {
			s.refuse(w, r, "an X-Api-Key header is required")
			return
		}
		sum := sha256.Sum256([]byte(key))
		if subtle.ConstantTimeCompare(sum[:], s.apiKey[:]) != 1 {
			s.refuse(w, r, "the API key is not valid")
			return
		}
		h(w, r)
	})
}

func (s *EmailSimulator) refuse(w http.ResponseWriter, r *http.Request, detail string) {
	s.logger.Debug("providers: API key refused", "reason", detail, "method", r.Method, "path", r.URL.Path)
	w.Header().Set("WWW-Authenticate", `ApiKey header="X-Api-Key"`)
	writeProblem(w, r, http.StatusUnauthorized, ProblemUnauthorized, detail, nil)
}

func (s *EmailSimulator) send(w http.ResponseWriter, r *http.Request) {
	var m Message
	if !decodeBody(w, r, &m) {
		s.mu.Lock()
		s.invalid++
		s.mu.Unlock()
		return
	}
	if errs := validateMessage(m); len(errs) > 0 {
		s.mu.Lock()
		s.invalid++
		s.mu.Unlock()
		writeValidation(w, r, errs)
		return
	}
	data, _ := json.Marshal(m)
	fp := sha256.Sum256(data)

	s.mu.Lock()
	if rec, ok := s.byID[m.ID]; ok {
		if rec.fingerprint != fp {
			s.idReuses++
			s.mu.Unlock()
			writeProblem(w, r, http.StatusUnprocessableEntity, ProblemIdempotencyKeyReused,
				"this message_id was used for another message",
				map[string]any{"errors": []FieldError{{"message_id", "used for another message"}}})
			return
		}
		s.repeats++
		rec.accepted++
		rc := rec.receipt()
		s.mu.Unlock()
		w.Header().Set("Idempotent-Replayed", "true")
		writeJSON(w, http.StatusAccepted, rc)
		return
	}
	rec := &sentRecord{
		msg:         SentMessage{Message: m, Status: "queued", AcceptedAt: time.Now().UTC().Truncate(time.Millisecond)},
		fingerprint: fp,
		accepted:    1,
	}
	s.byID[m.ID] = rec
	s.order = append(s.order, rec)
	rc := rec.receipt()
	s.mu.Unlock()
	writeJSON(w, http.StatusAccepted, rc)
}

func (rec *sentRecord) receipt() Receipt {
	return Receipt{MessageID: rec.msg.ID, Status: rec.msg.Status, AcceptedAt: rec.msg.AcceptedAt}
}

// validateMessage lists what is wrong with m.
func validateMessage(m Message) []FieldError {
	var errs []FieldError
	switch {
	case m.ID == "":
		errs = append(errs, FieldError{"message_id", "required"})
	case len(m.ID) > 128:
		errs = append(errs, FieldError{"message_id", "at most 128 characters"})
	}
	if detail := checkAddress(m.To); detail != "" {
		errs = append(errs, FieldError{"to", detail})
	}
	switch {
	case m.Template == "":
		errs = append(errs, FieldError{"template", "required"})
	case len(m.Template) > 64:
		errs = append(errs, FieldError{"template", "at most 64 characters"})
	}
	return errs
}

// checkAddress returns what is wrong with an e-mail address, or "".
func checkAddress(to string) string {
	if to == "" {
		return "required"
	}
	a, err := mail.ParseAddress(to)
	if err != nil || a.Name != "" || a.Address != to || len(to) > 254 {
		return fmt.Sprintf("%q is not an e-mail address such as ann@example.com", truncateString(to, 64))
	}
	domain := to[strings.LastIndexByte(to, '@')+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return fmt.Sprintf("%q has no valid domain", truncateString(to, 64))
	}
	return ""
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (s *EmailSimulator) list(w http.ResponseWriter, r *http.Request) {
	to := r.URL.Query().Get("to")
	s.mu.Lock()
	list := make([]SentMessage, 0)
	for _, rec := range s.order {
		if to == "" || rec.msg.To == to {
			list = append(list, rec.msg)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"messages": list})
}
