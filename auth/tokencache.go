package auth

import (
	"context"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// tokenState says what a cached token is good for at a given time.
type tokenState int

const (
	tokenMissing tokenState = iota // no token: fetch and wait
	tokenExpired                   // past expiry: fetch and wait
	tokenStale                     // within the early-refresh margin: refresh, but usable meanwhile
	tokenFresh                     // use as is
)

func (s tokenState) String() string {
	return [...]string{"missing", "expired", "stale", "fresh"}[s]
}

// refreshBackoff is how long a failed early refresh is not retried while the
// current token is still valid, so that a failing token endpoint is not called
// on every request.
const refreshBackoff = 5 * time.Second

// cachedToken is a token and when it was obtained.
type cachedToken struct {
	tok     *oauth2.Token
	fetched time.Time
}

// refreshAt returns when the token should be refreshed: early before its expiry,
// but never earlier than half-way through its lifetime, so that short-lived
// tokens are not fetched on every call. It is the zero time for a token that
// never expires.
func (c cachedToken) refreshAt(early time.Duration) time.Time {
	if c.tok == nil || c.tok.Expiry.IsZero() {
		return time.Time{}
	}
	margin := early
	if half := c.tok.Expiry.Sub(c.fetched) / 2; margin > half {
		margin = half
	}
	if margin < 0 {
		margin = 0
	}
	return c.tok.Expiry.Add(-margin)
}

// state returns the token's state at now.
func (c cachedToken) state(now time.Time, early time.Duration) tokenState {
	switch {
	case c.tok == nil || c.tok.AccessToken == "":
		return tokenMissing
	case c.tok.Expiry.IsZero():
		return tokenFresh
	case !now.Before(c.tok.Expiry):
		return tokenExpired
	case !now.Before(c.refreshAt(early)):
		return tokenStale
	}
	return tokenFresh
}

// flight is one token request that other callers wait for.
type flight struct {
	done chan struct{}
	// Set before done is closed.
	tok       *oauth2.Token
	err       error
	abandoned bool // the fetching caller's context ended: waiters should try again
}

// tokenCache caches one token, refreshes it ahead of expiry, and lets a single
// caller fetch at a time. Its time logic takes now from the caller.
type tokenCache struct {
	fetch func(ctx context.Context) (*oauth2.Token, error)
	early time.Duration

	mu       sync.Mutex
	cur      cachedToken
	inflight *flight
	failedAt time.Time // last failed early refresh
}

// get returns a usable token at now, fetching one if needed. Concurrent callers
// share one fetch: while a token is missing or expired they wait for it (or for
// their own context); while it is stale but valid, one caller refreshes it and the
// others go on with the current token. A failed early refresh is not an error
// while the current token is still valid.
func (c *tokenCache) get(ctx context.Context, now time.Time) (*oauth2.Token, error) {
	for {
		c.mu.Lock()
		st := c.cur.state(now, c.early)
		if st == tokenFresh ||
			(st == tokenStale && (c.inflight != nil || now.Sub(c.failedAt) < refreshBackoff)) {
			tok := c.cur.tok
			c.mu.Unlock()
			return tok, nil
		}
		if f := c.inflight; f != nil {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			}
			if f.abandoned {
				continue
			}
			return f.tok, f.err
		}
		f := &flight{done: make(chan struct{})}
		c.inflight = f
		c.mu.Unlock()

		tok, err := c.fetch(ctx)

		c.mu.Lock()
		c.inflight = nil
		switch {
		case err == nil:
			c.cur = cachedToken{tok: tok, fetched: now}
			c.failedAt = time.Time{}
		case st == tokenStale && ctx.Err() == nil:
			// Keep the still-valid token; try again after the backoff.
			c.failedAt = now
			tok, err = c.cur.tok, nil
		}
		f.tok, f.err = tok, err
		f.abandoned = err != nil && ctx.Err() != nil
		close(f.done)
		c.mu.Unlock()
		return tok, err
	}
}

// invalidate forgets the cached token if it is accessToken, so that the next get
// fetches a new one. It does nothing if the token was already replaced.
func (c *tokenCache) invalidate(accessToken string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur.tok != nil && c.cur.tok.AccessToken == accessToken {
		c.cur = cachedToken{}
	}
}
