package providers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/internal/customers/providers"
)

func TestEmailSend(t *testing.T) {
	sim := startEmail(t, providers.EmailSimOptions{})
	c := emailClient(t, sim.ClientConfig())
	ctx := context.Background()
	m := providers.Message{ID: "evt-1", To: "ann@example.com", Template: "welcome", Data: map[string]any{"name": "Ann", "vip": false}}

	rc, err := c.Send(ctx, m)
	if err != nil || rc.MessageID != "evt-1" || rc.Status != "queued" || rc.AcceptedAt.IsZero() {
		t.Fatalf("Send = %+v, %v; want evt-1 queued", rc, err)
	}
	again, err := c.Send(ctx, m)
	if err != nil || again != rc {
		t.Errorf("Send again = %+v, %v; want %+v", again, err, rc)
	}
	if _, err := c.Send(ctx, providers.Message{ID: "evt-2", To: "bob@example.org", Template: "vip"}); err != nil {
		t.Fatal(err)
	}
	list, err := c.Messages(ctx, "ann@example.com")
	if err != nil || len(list) != 1 || list[0].ID != "evt-1" || list[0].Data["name"] != "Ann" || list[0].Template != "welcome" {
		t.Errorf("Messages(ann) = %+v, %v; want evt-1 only", list, err)
	}
	if all, err := c.Messages(ctx, ""); err != nil || len(all) != 2 {
		t.Errorf("Messages() = %d, %v; want 2", len(all), err)
	}
	st := sim.Stats()
	if st.Messages != 2 || st.Repeats != 1 || sim.SendCount("evt-1") != 2 || sim.SendCount("evt-2") != 1 || sim.SendCount("none") != 0 ||
		st.AcceptedByMessage["evt-1"] != 2 || len(sim.Messages()) != 2 || st.ByStatus[202] != 3 {
		t.Errorf("stats = %+v; want 2 messages, 1 repeat, evt-1 accepted twice", st)
	}

	_, err = c.Send(ctx, providers.Message{ID: "evt-1", To: "ann@example.com", Template: "goodbye"})
	wantKind(t, err, providers.ErrIdempotencyKeyReused, true)
}

func TestEmailInvalidRecipient(t *testing.T) {
	sim := startEmail(t, providers.EmailSimOptions{})
	c := emailClient(t, sim.ClientConfig())
	for _, to := range []string{"", "not-an-address", "Ann <ann@example.com>", "ann@localhost", "ann@example.", "ann@@example.com"} {
		_, err := c.Send(context.Background(), providers.Message{ID: "m-" + to, To: to, Template: "welcome"})
		e := wantKind(t, err, providers.ErrInvalidRecipient, true)
		if !errorsIs(err, providers.ErrInvalidRequest) {
			t.Errorf("Send(to %q) error %v does not match ErrInvalidRequest", to, err)
		}
		if e.StatusCode != http.StatusUnprocessableEntity || len(e.Fields) != 1 || e.Fields[0].Field != "to" {
			t.Errorf("Send(to %q): %d %v; want 422 naming to", to, e.StatusCode, e.Fields)
		}
	}
	_, err := c.Send(context.Background(), providers.Message{ID: "m", To: "ann@example.com"})
	e := wantKind(t, err, providers.ErrInvalidRequest, true)
	if errorsIs(err, providers.ErrInvalidRecipient) || !hasField(e.Fields, "template") {
		t.Errorf("missing template: %v; want ErrInvalidRequest naming template, not ErrInvalidRecipient", err)
	}
	if st := sim.Stats(); st.Invalid != 7 || st.Messages != 0 {
		t.Errorf("stats = %+v, want 7 invalid, no message", st)
	}
}

func TestEmailWrongKey(t *testing.T) {
	var logs logBuffer
	sim := startEmail(t, providers.EmailSimOptions{APIKey: auth.NewSecret("sk_right_1234567")})
	cfg := sim.ClientConfig()
	cfg.APIKey = auth.NewSecret("sk_wrong_7654321")
	cfg.Logger = debugLogger(&logs)
	c := emailClient(t, cfg)
	_, err := c.Send(context.Background(), providers.Message{ID: "m", To: "ann@example.com", Template: "welcome"})
	if e := wantKind(t, err, providers.ErrUnauthorized, true); e.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong key: status %d, want 401", e.StatusCode)
	}
	for _, secret := range []string{"sk_wrong_7654321", "sk_right_1234567"} {
		if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
			t.Errorf("key %q in the error or the logs:\n%v\n%s", secret, err, logs.String())
		}
	}
	resp, body := do(t, rawClient(t), "GET", sim.URL()+"/v1/messages", nil, "")
	if resp.StatusCode != 401 || !strings.Contains(body, "X-Api-Key") || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("GET without a key: %d %s; want 401 asking for X-Api-Key", resp.StatusCode, body)
	}
	if st := sim.Stats(); st.ByStatus[401] != 2 || st.Messages != 0 {
		t.Errorf("stats = %+v; want two 401, no message", st)
	}
}
