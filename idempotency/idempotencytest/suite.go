// Package idempotencytest is the conformance suite of [idempotency.Store]: every
// implementation in this module passes [Run], and so should any other.
//
// The suite runs in real time. Tests of lease expiry use leases of 50ms and wait for
// them, so the whole suite takes a few hundred milliseconds.
package idempotencytest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-go/rampart/idempotency"
)

// ShortLease is the lease of the tests that wait for a lease to end. Stores whose
// clock is coarser than about 10ms will not pass them.
const ShortLease = 50 * time.Millisecond

// longLease is the lease of the tests that must not see one end.
const longLease = time.Minute

// Run runs the suite as subtests of t, in sequence. newStore is called once per
// subtest, with the subtest's t; it returns a store that starts out empty, or at
// least holds none of the suite's keys (the suite's message IDs are random), and
// registers any cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) idempotency.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s idempotency.Store, keys func(consumer string) idempotency.Key)
	}{
		{"ClaimDoneClaim", testClaimDoneClaim},
		{"ClaimReleaseClaim", testClaimReleaseClaim},
		{"WrongTokens", testWrongTokens},
		{"ConcurrentClaimsOfOneKey", testConcurrentClaims},
		{"LeaseExpiry", testLeaseExpiry},
		{"DoneAfterLeaseExpiry", testDoneAfterLeaseExpiry},
		{"ConsumersAreIndependent", testConsumersIndependent},
		{"OddKeys", testOddKeys},
		{"InvalidArguments", testInvalidArguments},
		{"ManyKeysInParallel", testManyKeysInParallel},
		{"DuplicatesHandledOnce", testDuplicatesHandledOnce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			if s == nil {
				t.Fatal("newStore returned nil")
			}
			run := rand.Text()[:10]
			var n atomic.Int64
			keys := func(consumer string) idempotency.Key {
				return idempotency.Key{Consumer: consumer, MessageID: fmt.Sprintf("%s-%d", run, n.Add(1))}
			}
			tt.run(t, s, keys)
		})
	}
}

// claim claims k and checks the outcome.
func claim(t *testing.T, s idempotency.Store, k idempotency.Key, lease time.Duration, want idempotency.Status) idempotency.Token {
	t.Helper()
	st, tok, err := s.Claim(context.Background(), k, lease)
	if err != nil {
		t.Fatalf("Claim(%+v) = error %v, want %v", k, err, want)
	}
	if st != want {
		t.Fatalf("Claim(%+v) = %v, want %v", k, st, want)
	}
	if (tok != "") != (st == idempotency.Claimed) {
		t.Fatalf("Claim(%+v) = %v with token %q; want a token exactly when claimed", k, st, tok)
	}
	return tok
}

func done(t *testing.T, s idempotency.Store, k idempotency.Key, tok idempotency.Token, want error) {
	t.Helper()
	if err := s.Done(context.Background(), k, tok); !errors.Is(err, want) || (want == nil && err != nil) {
		t.Fatalf("Done(%+v, %q) = %v, want %v", k, tok, err, want)
	}
}

func release(t *testing.T, s idempotency.Store, k idempotency.Key, tok idempotency.Token, want error) {
	t.Helper()
	if err := s.Release(context.Background(), k, tok); !errors.Is(err, want) || (want == nil && err != nil) {
		t.Fatalf("Release(%+v, %q) = %v, want %v", k, tok, err, want)
	}
}

func testClaimDoneClaim(t *testing.T, s idempotency.Store, keys func(string) idempotency.Key) {
	k := keys("welcome-email")
	tok := claim(t, s, k, longLease, idempotency.Claimed)
	claim(t, s, k, longLease, idempotency.InProgress)
	done(t, s, k, tok, nil)
	claim(t, s, k, longLease, idempotency.AlreadyDone)
	claim(t, s, k, longLease, idempotency.AlreadyDone)
}

func testClaimReleaseClaim(t *testing.T, s idempotency.Store, keys func(string) idempotency.Key) {
	k := keys("welcome-email")
	first := claim(t, s, k, longLease, idempotency.Claimed)
	release(t, s, k, first, nil)
	second := claim(t, s, k, longLease, idempotency.Claimed)
	if second == first {
		t.Fatalf("second claim's token = %q, the same as the first's; want a new one", second)
	}
	release(t, s, k, first, idempotency.ErrNotClaimed)
	done(t, s, k, first, idempotency.ErrNotClaimed)
	done(t, s, k, second, nil)
	claim(t, s, k, longLease, idempotency.AlreadyDone)
}

func testWrongTokens(t *testing.T, s idempotency.Store, keys func(string) idempotency.Key) {
	// Never claimed.
	k := keys("welcome-email")
	done(t, s, k, "some-token", idempotency.ErrNotClaimed)
	release(t, s, k, "some-token", idempotency.ErrNotClaimed)
	claim(t, s, k, longLease, idempotency.Claimed)

	// Claimed by someone else: nothing changes.
	k = keys("welcome-email")
	tok := claim(t, s, k, longLease, idempotency.Claimed)
	for _, wrong := range []idempotency.Token{"", "done", "not-" + tok, tok + "x"} {
		done(t, s, k, wrong, idempotency.ErrNotClaimed)
		release(t, s, k, wrong, idempotency.ErrNotClaimed)
	}
	claim(t, s, k, longLease, idempotency.InProgress)

	// Already done: neither a second Done nor a Release undoes it.
	done(t, s, k, tok, nil)
	done(t, s, k, tok, idempotency.ErrNotClaimed)
	release(t, s, k, tok, idempotency.ErrNotClaimed)
	release(t, s, k, "done", idempotency.ErrNotClaimed)
	claim(t, s, k, longLease, idempotency.AlreadyDone)
}

func testConcurrentClaims(t *testing.T, s idempotency.Store, keys func(string) idempotency.Key) {
	const workers = 32
	k := keys("welcome-email")
	var (
		start    = make(chan struct{})
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[idempotency.Status]int{}
		winner   idempotency.Token
	)
	for range workers {
		wg.Go(func() {
			<-start
			st, tok, err := s.Claim(context.Background(), k, longLease)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("Claim = error %v", err)
				return
			}
			statuses[st]++
			if st == idempotency.Claimed {
				winner = tok
			}
		})
	}
	close(start)
	wg.Wait()
	if statuses[idempotency.Claimed] != 1 || statuses[idempotency.InProgress] != workers-1 {
		t.Fatalf("%d concurrent claims of one key = %v, want 1 claimed and %d in-progress", workers, statuses, workers-1)
	}
	done(t, s, k, winner, nil)
	claim(t, s, k, longLease, idempotency.AlreadyDone)
}

// waitClaimed claims k until it gets Claimed, which it must before timeout.
func waitClaimed(t *testing.T, s idempotency.Store, k idempotency.Key, lease, timeout time.Duration) idempotency.Token {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, tok, err := s.Claim(context.Background(), k, lease)
		if err != nil {
			t.Fatalf("Claim(%+v) = error %v", k, err)
		}
		switch st {
		case idempotency.Claimed:
			return tok
		case idempotency.InProgress:
		default:
			t.Fatalf("Claim(%+v) = %v while waiting for the lease to end, want in-progress or claimed", k, st)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Claim(%+v) still in-progress %v after a lease of %v", k, timeout, ShortLease)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testLeaseExpiry(t *testing.T, s idempotency.Store, keys func(string) idempotency.Key) {
	k := keys("welcome-email")
	start := time.Now()
	first := claim(t, s, k, ShortLease, idempotency.Claimed)
	st, _, err := s.Claim(context.Background(), k, longLease)
	if err != nil {
		t.Fatalf("Claim = error %v", err)
	}
	if st != idempotency.InProgress && time.Since(start) < ShortLease {
		t.Fatalf("Claim within the first's lease = %v, want in-progress", st)
	}
	second := waitClaimed(t, s, k, longLease, 40*ShortLease)
	if elapsed := time.Since(start); elapsed < ShortLease {
		t.Fatalf("claimed again after %v, before the lease of %v ended", elapsed, ShortLease)
	}
	if second == first {
		t.Fatalf("claim after expiry has token %q, the same as the expired claim's", second)
	}
	// The first worker comes back late: its token is stale.
	done(t, s, k, first, idempotency.ErrNotClaimed)
	release(t, s, k, first, idempotency.ErrNotClaimed)
	claim(t, s, k, longLease, idempotency.InProgress)
	done(t, s, k, second, nil)
	claim(t, s, k, longLease, idempotency.AlreadyDone)
}

func testDoneAfterLeaseExpiry(t *testing.T, s idempotency.Store, keys func(string) idempotency.Key) {
	// Nobody else claims the key in between; still, the claim is gone.
	k1, k2 := keys("welcome-email"), keys("welcome-email")
	t1 := claim(t, s, k1, ShortLease, idempotency.Claimed)
	t2 := claim(t, s, k2, ShortLease, idempotency.Claimed)
	time.Sleep(2 * ShortLease)
	done(t, s, k1, t1, idempotency.ErrNotClaimed)
	release(t, s, k2, t2, idempotency.ErrNotClaimed)
	claim(t, s, k1, longLease, idempotency.Claimed) // not marked done
	claim(t, s, k2, longLease, idempotency.Claimed)
}

func testConsumersIndependent(t *testing.T, s idempotency.Store, keys func(string) idempotency.Key) {
	a := keys("welcome-email")
	b := idempotency.Key{Consumer: "inventory", MessageID: a.MessageID}
	ta := claim(t, s, a, longLease, idempotency.Claimed)
	tb := claim(t, s, b, longLease, idempotency.Claimed)
	done(t, s, a, ta, nil)
	claim(t, s, b, longLease, idempotency.InProgress)
	done(t, s, b, ta, idempotency.ErrNotClaimed) // a's token does not work for b
	release(t, s, b, tb, nil)
	claim(t, s, a, longLease, idempotency.AlreadyDone)
	tb = claim(t, s, b, longLease, idempotency.Claimed)
	done(t, s, b, tb, nil)
}

func testOddKeys(t *testing.T, s idempotency.Store, keys func(string) idempotency.Key) {
	id := keys("x").MessageID
	// Pairs that a careless encoding of (Consumer, MessageID) into one string would
	// confuse, and characters that mean something to some stores.
	odd := []idempotency.Key{
		{Consumer: "a:b", MessageID: id + ":c"},
		{Consumer: "a", MessageID: id + ":b:c"},
		{Consumer: "a:b:" + id, MessageID: "c"},
		{Consumer: "a%3Ab", MessageID: id + ":c"},
		{Consumer: "a%b", MessageID: id},
		{Consumer: "a", MessageID: "%b" + id},
		{Consumer: "*", MessageID: id + "*?[a-z]"},
		{Consumer: "ünïcode ✓", MessageID: id + " spaces\tand\nlines"},
		{Consumer: "long", MessageID: id + strings.Repeat("x", 1000)},
		{Consumer: "nul\x00", MessageID: id + "\x00"},
	}
	toks := make([]idempotency.Token, len(odd))
	for i, k := range odd {
		toks[i] = claim(t, s, k, longLease, idempotency.Claimed)
	}
	for i, k := range odd {
		if i%2 == 0 {
			done(t, s, k, toks[i], nil)
		}
	}
	for i, k := range odd {
		want := idempotency.InProgress
		if i%2 == 0 {
			want = idempotency.AlreadyDone
		}
		claim(t, s, k, longLease, want)
	}
	for i, k := range odd {
		if i%2 == 1 {
			release(t, s, k, toks[i], nil)
		}
	}
}

func testInvalidArguments(t *testing.T, s idempotency.Store, keys func(string) idempotency.Key) {
	ctx := context.Background()
	valid := keys("welcome-email")
	for _, tc := range []struct {
		k     idempotency.Key
		names string // field named in the error
	}{
		{idempotency.Key{MessageID: valid.MessageID}, "Consumer"},
		{idempotency.Key{Consumer: valid.Consumer}, "MessageID"},
		{idempotency.Key{}, "Consumer"},
	} {
		check := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, idempotency.ErrInvalidKey) || !strings.Contains(err.Error(), tc.names) {
				t.Errorf("%s(%+v) = %v, want an error wrapping ErrInvalidKey that names %s", op, tc.k, err, tc.names)
			}
		}
		st, tok, err := s.Claim(ctx, tc.k, longLease)
		check("Claim", err)
		if st != 0 || tok != "" {
			t.Errorf("Claim(%+v) = %v, %q with an error, want zero status and no token", tc.k, st, tok)
		}
		check("Done", s.Done(ctx, tc.k, "token"))
		check("Release", s.Release(ctx, tc.k, "token"))
	}
	for _, lease := range []time.Duration{0, -time.Second} {
		if st, _, err := s.Claim(ctx, valid, lease); err == nil {
			t.Errorf("Claim with lease %v = %v, nil; want an error", lease, st)
		}
	}
	claim(t, s, valid, longLease, idempotency.Claimed) // the rejected calls left no trace
}

func testManyKeysInParallel(t *testing.T, s idempotency.Store, keys func(string) idempotency.Key) {
	const workers, perWorker = 8, 100
	all := make([][]idempotency.Key, workers)
	for w := range all {
		for range perWorker {
			all[w] = append(all[w], keys(fmt.Sprintf("consumer-%d", w%3)))
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ctx := context.Background()
			for i, k := range all[w] {
				st, tok, err := s.Claim(ctx, k, longLease)
				if err != nil || st != idempotency.Claimed {
					t.Errorf("Claim(%+v) = %v, %v; want claimed", k, st, err)
					return
				}
				if i%4 == 3 {
					err = s.Release(ctx, k, tok)
				} else {
					err = s.Done(ctx, k, tok)
				}
				if err != nil {
					t.Errorf("Done or Release(%+v) = %v", k, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for w := range all {
		for i, k := range all[w] {
			want := idempotency.AlreadyDone
			if i%4 == 3 {
				want = idempotency.Claimed
			}
			claim(t, s, k, longLease, want)
		}
	}
}

// testDuplicatesHandledOnce delivers every message to every worker, the way a broker
// delivers duplicates and redeliveries, and checks that each handler ran once.
func testDuplicatesHandledOnce(t *testing.T, s idempotency.Store, keys func(string) idempotency.Key) {
	const workers, messages = 4, 100
	msgs := make([]idempotency.Key, messages)
	for i := range msgs {
		msgs[i] = keys("welcome-email")
	}
	var (
		handled [messages]atomic.Int32
		failed  [messages]atomic.Bool // the first attempt of every fifth message fails
		wg      sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			ctx := context.Background()
			for j := range messages {
				i := (j + w*messages/workers) % messages // each worker starts elsewhere
				for tries := 0; ; tries++ {
					st, tok, err := s.Claim(ctx, msgs[i], longLease)
					if err != nil {
						t.Errorf("Claim = %v", err)
						return
					}
					if st == idempotency.AlreadyDone {
						break
					}
					if st == idempotency.InProgress {
						if tries > 1000 {
							t.Errorf("message %d in progress for too long", i)
							return
						}
						time.Sleep(time.Millisecond) // the broker would redeliver later
						continue
					}
					if i%5 == 0 && failed[i].CompareAndSwap(false, true) {
						if err := s.Release(ctx, msgs[i], tok); err != nil {
							t.Errorf("Release = %v", err)
						}
						continue
					}
					handled[i].Add(1)
					if err := s.Done(ctx, msgs[i], tok); err != nil {
						t.Errorf("Done = %v", err)
					}
					break
				}
			}
		})
	}
	wg.Wait()
	for i := range handled {
		if n := handled[i].Load(); n != 1 {
			t.Errorf("message %d handled %d times, want 1", i, n)
		}
	}
}
