package health_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rampart-go/rampart/health"
	"github.com/rampart-go/rampart/internal/testenv"
)

// closedPort returns a loopback address that nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// The Ping check against a real Redis, and against one that is unreachable.
func TestPingRealRedis(t *testing.T) {
	opts, err := redis.ParseURL(testenv.URL(t, testenv.Redis))
	if err != nil {
		t.Fatal(err)
	}
	up := redis.NewClient(opts)
	defer up.Close()
	down := redis.NewClient(&redis.Options{Addr: closedPort(t), MaxRetries: -1, DialTimeout: 500 * time.Millisecond})
	defer down.Close()

	c, err := health.New(health.Config{
		Readiness: []health.Source{
			health.Ping("redis", func(ctx context.Context) error { return up.Ping(ctx).Err() }),
			health.Ping("cache", func(ctx context.Context) error { return down.Ping(ctx).Err() }),
		},
		Timeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	resp := c.Evaluate(context.Background(), health.Readiness)
	if resp.Status != health.StatusFail {
		t.Fatalf("readiness = %s, want fail (the cache is unreachable)", resp.Status)
	}
	for key, want := range map[string]health.Status{"redis:responseTime": health.StatusPass, "cache:responseTime": health.StatusFail} {
		got := resp.Checks[key]
		if len(got) != 1 || got[0].Status != want {
			t.Errorf("check %s = %+v, want one result with status %s", key, got, want)
		}
	}
}
