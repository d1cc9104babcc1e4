package idempotency_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rampart-go/rampart/idempotency"
	"github.com/rampart-go/rampart/idempotency/idempotencytest"
	"github.com/rampart-go/rampart/internal/testenv"
)

// redisClient connects to the test Redis (skipping or failing t when there is none)
// and closes the client when t ends.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(testenv.URL(t, testenv.Redis))
	if err != nil {
		t.Fatalf("%s: %v", testenv.Redis.Env, err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// testPrefix returns a key prefix of its own for t and deletes its keys when t ends,
// so that tests running at the same time, here or on other machines sharing the
// Redis, do not see each other's keys.
func testPrefix(t *testing.T, c redis.UniversalClient) string {
	t.Helper()
	prefix := "rampart:test:inbox:" + rand.Text() + ":"
	t.Cleanup(func() { deleteKeys(t, c, prefix) })
	return prefix
}

func deleteKeys(t testing.TB, c redis.UniversalClient, prefix string) {
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scanning keys %s*: %v", prefix, err)
		return
	}
	if len(keys) > 0 {
		if err := c.Del(ctx, keys...).Err(); err != nil {
			t.Errorf("deleting %d keys %s*: %v", len(keys), prefix, err)
		}
	}
}

func TestRedisConformance(t *testing.T) {
	testenv.URL(t, testenv.Redis) // skip (or fail) once, rather than in every subtest
	idempotencytest.Run(t, func(t *testing.T) idempotency.Store {
		c := redisClient(t)
		return idempotency.NewRedis(c, idempotency.RedisOptions{Prefix: testPrefix(t, c)})
	})
}

// The keys, values and expiries in Redis are the ones documented, so that operators
// can read them and other languages can share them.
func TestRedisKeys(t *testing.T) {
	c := redisClient(t)
	prefix := testPrefix(t, c)
	s := idempotency.NewRedis(c, idempotency.RedisOptions{Prefix: prefix, Retention: time.Hour})
	id := rand.Text()

	for _, tc := range []struct {
		consumer, key string
	}{
		{"welcome-email", prefix + "welcome-email:" + id},
		{"billing:invoices", prefix + "billing%3Ainvoices:" + id},
		{"50%:off", prefix + "50%25%3Aoff:" + id},
	} {
		k := idempotency.Key{Consumer: tc.consumer, MessageID: id}
		_, tok, err := s.Claim(ctx, k, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, tc.key).Result(); err != nil || v != string(tok) {
			t.Errorf("after Claim(%+v): GET %s = %q, %v; want the token %q", k, tc.key, v, err, tok)
		}
		if ttl := c.PTTL(ctx, tc.key).Val(); ttl <= 29*time.Second || ttl > 30*time.Second {
			t.Errorf("after Claim(%+v) with a lease of 30s: PTTL %s = %v", k, tc.key, ttl)
		}
		if err := s.Done(ctx, k, tok); err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, tc.key).Result(); err != nil || v != "done" {
			t.Errorf("after Done(%+v): GET %s = %q, %v; want \"done\"", k, tc.key, v, err)
		}
		if ttl := c.PTTL(ctx, tc.key).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
			t.Errorf("after Done(%+v) with a retention of 1h: PTTL %s = %v", k, tc.key, ttl)
		}
	}

	k := idempotency.Key{Consumer: "released", MessageID: id}
	_, tok, _ := s.Claim(ctx, k, time.Minute)
	if err := s.Release(ctx, k, tok); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, prefix+"released:"+id).Val(); n != 0 {
		t.Errorf("after Release: EXISTS = %d, want 0", n)
	}
}

func TestRedisDefaults(t *testing.T) {
	c := redisClient(t)
	s := idempotency.NewRedis(c, idempotency.RedisOptions{})
	k := idempotency.Key{Consumer: "rampart-test", MessageID: rand.Text()}
	key := idempotency.DefaultRedisPrefix + k.Consumer + ":" + k.MessageID
	t.Cleanup(func() { c.Del(context.Background(), key) })

	_, tok, err := s.Claim(ctx, k, time.Nanosecond) // rounded up to 1ms
	if err != nil {
		t.Fatal(err)
	}
	if ttl := c.PTTL(ctx, key).Val(); ttl > time.Millisecond {
		t.Errorf("PTTL after a claim of 1ns = %v, want at most 1ms", ttl)
	}
	_ = s.Release(ctx, k, tok)
	_, tok, _ = s.Claim(ctx, k, time.Minute)
	if err := s.Done(ctx, k, tok); err != nil {
		t.Fatal(err)
	}
	if ttl := c.PTTL(ctx, key).Val(); ttl <= 23*time.Hour || ttl > 24*time.Hour {
		t.Errorf("PTTL of a done mark with the default retention = %v, want 24h", ttl)
	}
}

// The store works through any UniversalClient, here one made from options.
func TestRedisUniversalClient(t *testing.T) {
	opt, err := redis.ParseURL(testenv.URL(t, testenv.Redis))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs: []string{opt.Addr}, DB: opt.DB, Username: opt.Username, Password: opt.Password,
	})
	t.Cleanup(func() { c.Close() })
	s := idempotency.NewRedis(c, idempotency.RedisOptions{Prefix: testPrefix(t, c)})
	k := idempotency.Key{Consumer: "welcome-email", MessageID: rand.Text()}
	st, tok, err := s.Claim(ctx, k, time.Minute)
	if err != nil || st != idempotency.Claimed {
		t.Fatalf("Claim = %v, %v", st, err)
	}
	if err := s.Done(ctx, k, tok); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := s.Claim(ctx, k, time.Minute); st != idempotency.AlreadyDone {
		t.Fatalf("Claim after Done = %v, want already-done", st)
	}
}

// Redis errors come back wrapped, with the package prefix, the operation and the
// key; the client's own error is still there for errors.Is.
func TestRedisErrors(t *testing.T) {
	k := idempotency.Key{Consumer: "welcome-email", MessageID: "m-1"}
	check := func(t *testing.T, op string, err, want error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s = nil, want an error", op)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "idempotency: redis "+strings.ToLower(op)) || !strings.Contains(msg, `"m-1"`) || !strings.Contains(msg, `"welcome-email"`) {
			t.Errorf("%s = %q, want the prefix %q and the key", op, msg, "idempotency: redis "+strings.ToLower(op))
		}
		if want != nil && !errors.Is(err, want) {
			t.Errorf("%s = %v, want it to wrap %v", op, err, want)
		}
		if errors.Is(err, idempotency.ErrNotClaimed) {
			t.Errorf("%s = %v, which must not look like ErrNotClaimed", op, err)
		}
	}

	t.Run("Unreachable", func(t *testing.T) {
		// Nothing listens on port 1.
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: 100 * time.Millisecond})
		t.Cleanup(func() { c.Close() })
		s := idempotency.NewRedis(c, idempotency.RedisOptions{})
		st, tok, err := s.Claim(ctx, k, time.Minute)
		check(t, "Claim", err, nil)
		if st != 0 || tok != "" {
			t.Errorf("Claim with an error = %v, %q; want zero status and no token", st, tok)
		}
		check(t, "Done", s.Done(ctx, k, "token"), nil)
		check(t, "Release", s.Release(ctx, k, "token"), nil)
	})

	t.Run("Canceled", func(t *testing.T) {
		c := redisClient(t)
		s := idempotency.NewRedis(c, idempotency.RedisOptions{Prefix: testPrefix(t, c)})
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		_, _, err := s.Claim(canceled, k, time.Minute)
		check(t, "Claim", err, context.Canceled)
		check(t, "Done", s.Done(canceled, k, "token"), context.Canceled)
		check(t, "Release", s.Release(canceled, k, "token"), context.Canceled)
	})
}

func TestNewRedisNilClient(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(r.(string), "idempotency: ") {
			t.Errorf("NewRedis(nil) panicked with %v, want an idempotency: message", r)
		}
	}()
	idempotency.NewRedis(nil, idempotency.RedisOptions{})
}

func BenchmarkRedisClaimDone(b *testing.B) {
	opt, err := redis.ParseURL(testenv.URL(b, testenv.Redis))
	if err != nil {
		b.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	prefix := "rampart:test:inbox:" + rand.Text() + ":"
	s := idempotency.NewRedis(c, idempotency.RedisOptions{Prefix: prefix, Retention: time.Minute})
	keys := benchKeys(1 << 16)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			k := keys[i%len(keys)]
			k.MessageID += rand.Text()
			i++
			_, tok, err := s.Claim(ctx, k, time.Minute)
			if err != nil {
				b.Error(err)
				return
			}
			if err := s.Done(ctx, k, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	deleteKeys(b, c, prefix)
}
