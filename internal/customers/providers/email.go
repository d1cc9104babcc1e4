package providers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/httpx"
)

// Message is an e-mail to send from a template. Its ID, chosen by the caller (the
// event's ID, say), makes sending idempotent: the provider sends it once, however
// many times it is asked.
type Message struct {
	ID       string         `json:"message_id"` // required
	To       string         `json:"to"`         // a bare address: "ann@example.com"
	Template string         `json:"template"`   // required: "welcome"
	Data     map[string]any `json:"data,omitempty"`
}

// Receipt is the provider's answer to a message it accepted.
type Receipt struct {
	MessageID  string    `json:"message_id"`
	Status     string    `json:"status"` // "queued"
	AcceptedAt time.Time `json:"accepted_at"`
}

// SentMessage is a message the provider accepted, as it lists them.
type SentMessage struct {
	Message
	Status     string    `json:"status"`
	AcceptedAt time.Time `json:"accepted_at"`
}

// EmailClientConfig configures an [EmailClient]. BaseURL (or HTTP.BaseURL) is
// required, and credentials: APIKey, or those HTTP carries already.
type EmailClientConfig struct {
	// BaseURL is the provider's API. Empty means HTTP.BaseURL.
	BaseURL string
	// APIKey is sent as X-Api-Key, loaded on every request: an [auth.Secret], an
	// [auth.EnvSecret] or an [*auth.FileSecret]. It is ignored when HTTP.Auth or
	// HTTP.AuthTransport is set.
	APIKey auth.SecretSource
	// HTTP configures the pipeline; see PaymentClientConfig.HTTP. Name defaults
	// to "email"; IdempotencyKeys is set by the constructor.
	HTTP httpx.Options
	// Logger and Observer, if set, replace HTTP.Logger and HTTP.Observer.
	Logger   *slog.Logger
	Observer httpx.Observer
}

// EmailClient is the typed client of the e-mail provider: an API key on every
// request, and httpx's pipeline. Errors are [*Error]s. An EmailClient is safe for
// concurrent use.
type EmailClient struct {
	client
}

// NewEmailClient returns a client for cfg.
func NewEmailClient(cfg EmailClientConfig) (*EmailClient, error) {
	opts := pipeline("email", cfg.BaseURL, cfg.HTTP, cfg.Logger, cfg.Observer)
	if err := requireBaseURL("EmailClientConfig", opts); err != nil {
		return nil, err
	}
	if !configuredAuth(&opts) {
		if cfg.APIKey == nil {
			return nil, errors.New("providers: EmailClientConfig.APIKey: required (or HTTP.Auth)")
		}
		opts.Auth = auth.APIKey(cfg.APIKey)
	}
	c, err := newClient("email", opts)
	if err != nil {
		return nil, err
	}
	return &EmailClient{c}, nil
}

// Send asks the provider to send a message, once per message ID: a repeated call
// (by the pipeline's retries, or by a redelivered event) is accepted again
// without a second e-mail. An address the provider refuses is
// [ErrInvalidRecipient] (which matches [ErrInvalidRequest] too); the same ID with
// other content is [ErrIdempotencyKeyReused].
func (c *EmailClient) Send(ctx context.Context, m Message) (Receipt, error) {
	if m.ID == "" {
		return Receipt{}, argError(c.provider, "Send", "", "the message ID is empty")
	}
	ctx = httpx.WithIdempotencyKey(ctx, m.ID) // makes the POST retryable
	rc, err := httpx.PostJSON[Receipt](ctx, c.http, "/v1/messages", m)
	return rc, callError(c.provider, "Send", m.ID, err, invalidRecipient)
}

// Messages returns the messages the provider accepted, oldest first; to, if not
// empty, keeps those sent to that address.
func (c *EmailClient) Messages(ctx context.Context, to string) ([]SentMessage, error) {
	var q url.Values
	if to != "" {
		q = url.Values{"to": {to}}
	}
	list, err := httpx.GetJSON[struct {
		Messages []SentMessage `json:"messages"`
	}](ctx, c.http, "/v1/messages", q)
	return list.Messages, callError(c.provider, "Messages", "", err, nil)
}

func invalidRecipient(status int, _ *httpx.Problem, fields []FieldError) error {
	if status == http.StatusUnprocessableEntity && hasField(fields, "to") {
		return ErrInvalidRecipient
	}
	return nil
}
