package idempotency

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix is the key prefix of [Redis] when [RedisOptions.Prefix] is empty.
const DefaultRedisPrefix = "rampart:inbox:"

// RedisOptions configures [NewRedis]. The zero value is usable: keys under
// "rampart:inbox:", done marks kept for 24 hours.
type RedisOptions struct {
	// Prefix starts every key. If empty, DefaultRedisPrefix is used.
	Prefix string
	// Retention is how long a done mark is kept. If Retention <= 0, DefaultRetention
	// is used. Redis rounds it, like leases, up to whole milliseconds.
	Retention time.Duration
}

// Redis is a [Store] in Redis, shared by every process that uses the same Redis and
// prefix. Each message is one string key, Prefix + Consumer + ":" + MessageID, whose
// value is the token of the claim that holds it or "done", and whose expiry (PX) is
// the end of the lease or of the retention; Redis drops it by itself. (A ":" or "%"
// in Consumer is escaped as "%3A" or "%25", so that two keys never share a name.)
//
// Every operation is one atomic round trip: Claim runs SET key token NX PX lease and,
// when the key exists, reads its value in the same script, to tell AlreadyDone
// ("done") from InProgress (a token); Done and Release are scripts that compare the
// token before they set "done" with the retention or delete the key. Each key is
// touched alone, so Redis Cluster works.
//
// Errors wrap the client's, prefixed with "idempotency:" and the operation. A Redis
// is safe for concurrent use; it does not own the client, which its creator closes.
type Redis struct {
	client    redis.UniversalClient
	prefix    string
	retention int64 // milliseconds
}

// NewRedis returns a store that keeps its keys in client, configured by opts. It
// panics if client is nil.
func NewRedis(client redis.UniversalClient, opts RedisOptions) *Redis {
	if client == nil {
		panic("idempotency: NewRedis with a nil client")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultRedisPrefix
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	return &Redis{client: client, prefix: opts.Prefix, retention: millis(opts.Retention)}
}

// redisDone is the value of a key that is done. Tokens are upper-case base32 and
// never equal it.
const redisDone = "done"

var (
	// KEYS[1] key; ARGV[1] token, ARGV[2] lease in ms. Returns 1 when claimed, else
	// the value that is there ("done" or another claim's token).
	claimScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return 1
end
return redis.call('GET', KEYS[1])
`)
	// KEYS[1] key; ARGV[1] token, ARGV[2] retention in ms. Returns 1 when marked.
	doneScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2])
	return 1
end
return 0
`)
	// KEYS[1] key; ARGV[1] token. Returns 1 when released.
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('DEL', KEYS[1])
	return 1
end
return 0
`)
)

// Claim implements [Store].
func (r *Redis) Claim(ctx context.Context, k Key, lease time.Duration) (Status, Token, error) {
	if err := k.Validate(); err != nil {
		return 0, "", err
	}
	if lease <= 0 {
		return 0, "", fmt.Errorf("idempotency: lease %v is not positive", lease)
	}
	tok := Token(rand.Text())
	v, err := claimScript.Run(ctx, r.client, []string{r.key(k)}, string(tok), millis(lease)).Result()
	if err != nil {
		return 0, "", r.wrap("claim", k, err)
	}
	switch v := v.(type) {
	case int64:
		if v == 1 {
			return Claimed, tok, nil
		}
	case string:
		if v == redisDone {
			return AlreadyDone, "", nil
		}
		return InProgress, "", nil
	}
	return 0, "", r.wrap("claim", k, fmt.Errorf("unexpected reply %T %v", v, v))
}

// Done implements [Store].
func (r *Redis) Done(ctx context.Context, k Key, t Token) error {
	return r.compareAnd(ctx, "done", doneScript, k, t, r.retention)
}

// Release implements [Store].
func (r *Redis) Release(ctx context.Context, k Key, t Token) error {
	return r.compareAnd(ctx, "release", releaseScript, k, t)
}

// compareAnd runs a script that acts on k only if it holds the claim t.
func (r *Redis) compareAnd(ctx context.Context, op string, s *redis.Script, k Key, t Token, args ...any) error {
	if err := k.Validate(); err != nil {
		return err
	}
	if t == "" || t == redisDone {
		return ErrNotClaimed
	}
	n, err := s.Run(ctx, r.client, []string{r.key(k)}, append([]any{string(t)}, args...)...).Int64()
	if err != nil {
		return r.wrap(op, k, err)
	}
	if n != 1 {
		return ErrNotClaimed
	}
	return nil
}

// key returns the Redis key of k.
func (r *Redis) key(k Key) string {
	return r.prefix + escapeConsumer(k.Consumer) + ":" + k.MessageID
}

// escapeConsumer escapes "%" and ":" so that the first ":" after the prefix always
// ends the consumer.
func escapeConsumer(c string) string {
	if !strings.ContainsAny(c, "%:") {
		return c
	}
	return consumerEscaper.Replace(c)
}

var consumerEscaper = strings.NewReplacer("%", "%25", ":", "%3A")

func (r *Redis) wrap(op string, k Key, err error) error {
	return fmt.Errorf("idempotency: redis %s of message %q for consumer %q: %w", op, k.MessageID, k.Consumer, err)
}

// millis returns d in whole milliseconds, rounded up, at least 1.
func millis(d time.Duration) int64 {
	ms := int64(d / time.Millisecond)
	if d%time.Millisecond != 0 {
		ms++
	}
	return max(1, ms)
}
