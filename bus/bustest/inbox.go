package bustest

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/rampart-go/rampart/idempotency"
)

// inbox is a small, exact in-memory idempotency.Store for the suite, so that the
// suite checks transports rather than a store.
type inbox struct {
	mu      sync.Mutex
	n       int
	entries map[idempotency.Key]inboxEntry
}

type inboxEntry struct {
	done    bool
	token   idempotency.Token
	expires time.Time
}

func newInbox() *inbox { return &inbox{entries: make(map[idempotency.Key]inboxEntry)} }

func (s *inbox) Claim(ctx context.Context, k idempotency.Key, lease time.Duration) (idempotency.Status, idempotency.Token, error) {
	if k.Consumer == "" || k.MessageID == "" {
		return 0, "", errors.New("bustest: inbox: empty key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	e, ok := s.entries[k]
	switch {
	case ok && e.done:
		return idempotency.AlreadyDone, "", nil
	case ok && now.Before(e.expires):
		return idempotency.InProgress, "", nil
	}
	s.n++
	tok := idempotency.Token(strconv.Itoa(s.n))
	s.entries[k] = inboxEntry{token: tok, expires: now.Add(lease)}
	return idempotency.Claimed, tok, nil
}

func (s *inbox) Done(ctx context.Context, k idempotency.Key, t idempotency.Token) error {
	return s.settle(k, t, func(e inboxEntry) { s.entries[k] = inboxEntry{done: true} })
}

func (s *inbox) Release(ctx context.Context, k idempotency.Key, t idempotency.Token) error {
	return s.settle(k, t, func(inboxEntry) { delete(s.entries, k) })
}

func (s *inbox) settle(k idempotency.Key, t idempotency.Token, fn func(inboxEntry)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[k]
	if !ok || e.done || e.token != t || !time.Now().Before(e.expires) {
		return idempotency.ErrNotClaimed
	}
	fn(e)
	return nil
}
