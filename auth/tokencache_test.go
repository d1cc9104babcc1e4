package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"
)

func TestTokenState(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	hour := cachedToken{tok: &oauth2.Token{AccessToken: "a", Expiry: t0.Add(time.Hour)}, fetched: t0}
	short := cachedToken{tok: &oauth2.Token{AccessToken: "a", Expiry: t0.Add(10 * time.Second)}, fetched: t0}
	forever := cachedToken{tok: &oauth2.Token{AccessToken: "a"}, fetched: t0}
	tests := []struct {
		name  string
		tok   cachedToken
		early time.Duration
		at    time.Duration // after t0
		want  tokenState
	}{
		{"no token", cachedToken{}, time.Minute, 0, tokenMissing},
		{"empty access token", cachedToken{tok: &oauth2.Token{}}, time.Minute, 0, tokenMissing},
		{"new", hour, time.Minute, 0, tokenFresh},
		{"just before early refresh", hour, time.Minute, 59*time.Minute - time.Nanosecond, tokenFresh},
		{"at early refresh", hour, time.Minute, 59 * time.Minute, tokenStale},
		{"just before expiry", hour, time.Minute, time.Hour - time.Nanosecond, tokenStale},
		{"at expiry", hour, time.Minute, time.Hour, tokenExpired},
		{"after expiry", hour, time.Minute, 2 * time.Hour, tokenExpired},
		{"no early refresh", hour, 0, time.Hour - time.Nanosecond, tokenFresh},
		{"short token: margin capped at half", short, time.Minute, 4 * time.Second, tokenFresh},
		{"short token: stale at half", short, time.Minute, 5 * time.Second, tokenStale},
		{"never expires", forever, time.Minute, 1000 * time.Hour, tokenFresh},
	}
	for _, tt := range tests {
		if got := tt.tok.state(t0.Add(tt.at), tt.early); got != tt.want {
			t.Errorf("%s: state(t0+%s, early %s) = %s, want %s", tt.name, tt.at, tt.early, got, tt.want)
		}
	}
}

// fakeTokenServer hands out numbered tokens that live for lifetime, after delay.
type fakeTokenServer struct {
	lifetime time.Duration
	delay    time.Duration
	calls    atomic.Int32
	fail     atomic.Bool
}

func (f *fakeTokenServer) fetch(ctx context.Context) (*oauth2.Token, error) {
	n := f.calls.Add(1)
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if f.fail.Load() {
		return nil, &TokenFetchError{TokenURL: "fake", Err: errors.New("unavailable")}
	}
	return &oauth2.Token{AccessToken: fmt.Sprintf("token-%d", n), Expiry: time.Now().Add(f.lifetime)}, nil
}

func mustToken(t *testing.T, c *tokenCache) string {
	t.Helper()
	tok, err := c.get(context.Background(), time.Now())
	if err != nil {
		t.Fatalf("get() error = %v", err)
	}
	return tok.AccessToken
}

func TestTokenCacheRefreshesAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &fakeTokenServer{lifetime: 10 * time.Minute}
		c := &tokenCache{fetch: srv.fetch, early: time.Minute}
		if got := mustToken(t, c); got != "token-1" {
			t.Fatalf("first get() = %s, want token-1", got)
		}
		time.Sleep(9*time.Minute - time.Second)
		if got := mustToken(t, c); got != "token-1" {
			t.Errorf("get() before the early margin = %s, want the cached token-1", got)
		}
		time.Sleep(time.Second)
		if got := mustToken(t, c); got != "token-2" {
			t.Errorf("get() in the early margin = %s, want token-2 (refreshed ahead of expiry)", got)
		}
		if got := srv.calls.Load(); got != 2 {
			t.Errorf("token requests = %d, want 2", got)
		}
	})
}

func TestTokenCacheSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &fakeTokenServer{lifetime: time.Hour, delay: time.Second}
		c := &tokenCache{fetch: srv.fetch, early: time.Minute}
		var wg sync.WaitGroup
		tokens := make([]string, 100)
		for i := range tokens {
			wg.Go(func() { tokens[i] = mustToken(t, c) })
		}
		wg.Wait()
		if got := srv.calls.Load(); got != 1 {
			t.Errorf("token requests for 100 concurrent calls = %d, want 1", got)
		}
		for i, tok := range tokens {
			if tok != "token-1" {
				t.Errorf("call %d got %s, want token-1", i, tok)
			}
		}
	})
}

func TestTokenCacheStaleTokenServedDuringRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &fakeTokenServer{lifetime: 10 * time.Minute, delay: time.Second}
		c := &tokenCache{fetch: srv.fetch, early: time.Minute}
		mustToken(t, c)
		time.Sleep(9*time.Minute + time.Second) // stale, not expired

		refreshed := make(chan string)
		go func() { refreshed <- mustToken(t, c) }()
		synctest.Wait() // the refresher is waiting for the token server
		// Meanwhile other callers are not held up: they get the current token.
		if got := mustToken(t, c); got != "token-1" {
			t.Errorf("get() during refresh = %s, want the still-valid token-1", got)
		}
		if got := <-refreshed; got != "token-2" {
			t.Errorf("refreshing get() = %s, want token-2", got)
		}
		if got := srv.calls.Load(); got != 2 {
			t.Errorf("token requests = %d, want 2", got)
		}
	})
}

func TestTokenCacheFailedEarlyRefreshKeepsToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &fakeTokenServer{lifetime: 10 * time.Minute}
		c := &tokenCache{fetch: srv.fetch, early: 2 * time.Minute}
		mustToken(t, c)
		time.Sleep(8*time.Minute + time.Second)
		srv.fail.Store(true)
		if got := mustToken(t, c); got != "token-1" {
			t.Errorf("get() with failing refresh = %s, want the still-valid token-1", got)
		}
		if got := mustToken(t, c); got != "token-1" || srv.calls.Load() != 2 {
			t.Errorf("get() right after a failed refresh = %s with %d requests, want token-1 and no new request", got, srv.calls.Load())
		}
		time.Sleep(refreshBackoff)
		srv.fail.Store(false)
		if got := mustToken(t, c); got != "token-3" {
			t.Errorf("get() after the backoff = %s, want token-3", got)
		}
		// Once expired, a failure is an error.
		srv.fail.Store(true)
		time.Sleep(11 * time.Minute)
		if _, err := c.get(context.Background(), time.Now()); !errors.Is(err, ErrTokenFetch) {
			t.Errorf("get() with an expired token and failing server error = %v, want ErrTokenFetch", err)
		}
	})
}

func TestTokenCacheWaiterHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &fakeTokenServer{lifetime: time.Hour, delay: time.Minute}
		c := &tokenCache{fetch: srv.fetch, early: time.Minute}
		leader := make(chan string)
		go func() { leader <- mustToken(t, c) }()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.get(ctx, time.Now())
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Errorf("get() waiting with a 1s deadline = %v after %s, want DeadlineExceeded after 1s", err, time.Since(start))
		}
		if got := <-leader; got != "token-1" {
			t.Errorf("leader got %s, want token-1", got)
		}
	})
}

func TestTokenCacheAbandonedFetchIsRetriedByWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &fakeTokenServer{lifetime: time.Hour, delay: time.Minute}
		c := &tokenCache{fetch: srv.fetch, early: time.Minute}
		leaderCtx, cancelLeader := context.WithCancel(context.Background())
		leaderErr := make(chan error)
		go func() {
			_, err := c.get(leaderCtx, time.Now())
			leaderErr <- err
		}()
		synctest.Wait()
		waiter := make(chan string)
		go func() { waiter <- mustToken(t, c) }()
		synctest.Wait()
		cancelLeader()
		if err := <-leaderErr; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled leader error = %v, want context.Canceled", err)
		}
		if got := <-waiter; got != "token-2" {
			t.Errorf("waiter got %s, want token-2 from its own fetch", got)
		}
	})
}

func TestTokenCacheInvalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &fakeTokenServer{lifetime: time.Hour}
		c := &tokenCache{fetch: srv.fetch, early: time.Minute}
		mustToken(t, c)
		c.invalidate("some-other-token")
		if got := mustToken(t, c); got != "token-1" {
			t.Errorf("get() after invalidating another token = %s, want token-1", got)
		}
		c.invalidate("token-1")
		c.invalidate("token-1")
		if got := mustToken(t, c); got != "token-2" {
			t.Errorf("get() after invalidate = %s, want token-2", got)
		}
		c.invalidate("token-1") // a late rejection of the old token
		if got := mustToken(t, c); got != "token-2" || srv.calls.Load() != 2 {
			t.Errorf("get() after a stale invalidate = %s with %d requests, want token-2 and 2", got, srv.calls.Load())
		}
	})
}
