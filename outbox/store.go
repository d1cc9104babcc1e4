package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rampart-go/rampart/bus"
)

// row is one claimed outbox row.
type row struct {
	seq      int64
	attempts int
	msg      bus.Message
	// added is when the row was added (its created_at), by this process's
	// monotonic clock: the claim reads the row's age by the database's clock.
	added time.Time
}

// store holds the SQL of one dialect and table.
type store struct {
	db      database
	dialect Dialect
	table   string
	owner   string // the relay's ID: claimed_by

	claimSQL, markSQL, failSQL, parkSQL, releaseSQL, cleanupSQL string
}

func newStore(db database, d Dialect, prefix, owner string) *store {
	s := &store{db: db, dialect: d, table: prefix + "outbox", owner: owner}
	t := s.table
	const cols = "seq, event_id, event_type, ordering_key, headers, body, attempts"
	if d == Postgres {
		// Claim the oldest pending (unsent, not parked) row of each ordering key (its
		// head) when it is free, skipping heads that another relay is claiming right
		// now (SKIP LOCKED), and with each head the free rows that follow it in its
		// key. A row that is not a head is never claimed on its own: while the head is
		// pending, held by a lease or backing off after a failure, the rest of its key
		// waits. So two relays never hold rows of one key at once, and a key is
		// published in seq order. Parked rows are out of the way.
		s.claimSQL = `WITH heads AS (
	SELECT o.seq, o.ordering_key FROM ` + t + ` o
	WHERE o.sent_at IS NULL AND o.parked_at IS NULL
	  AND (o.claimed_until IS NULL OR o.claimed_until < now())
	  AND (o.ordering_key = '' OR NOT EXISTS (
		SELECT 1 FROM ` + t + ` e
		WHERE e.ordering_key = o.ordering_key AND e.sent_at IS NULL AND e.parked_at IS NULL AND e.seq < o.seq))
	ORDER BY o.seq
	LIMIT $1
	FOR UPDATE SKIP LOCKED
), followers AS (
	SELECT f.seq FROM heads h JOIN ` + t + ` f ON f.ordering_key = h.ordering_key
	WHERE h.ordering_key <> '' AND f.sent_at IS NULL AND f.parked_at IS NULL AND f.seq > h.seq
	  AND (f.claimed_until IS NULL OR f.claimed_until < now())
	ORDER BY f.seq
	LIMIT GREATEST($1 - (SELECT count(*) FROM heads), 0)
), picked AS (
	SELECT seq FROM heads UNION ALL SELECT seq FROM followers
)
UPDATE ` + t + ` o
SET claimed_until = now() + ($2::float8 * interval '1 millisecond'), claimed_by = $3, attempts = o.attempts + 1
FROM picked p WHERE o.seq = p.seq
RETURNING o.seq, o.event_id, o.event_type, o.ordering_key, o.headers::text, o.body, o.attempts,
	(EXTRACT(EPOCH FROM now() - o.created_at) * 1000)::float8`
		s.markSQL = `UPDATE ` + t + ` SET sent_at = now(), claimed_until = NULL, claimed_by = NULL, last_error = NULL
WHERE seq = ANY($1) AND claimed_by = $2 AND sent_at IS NULL`
		s.failSQL = `UPDATE ` + t + ` SET claimed_until = now() + ($2::float8 * interval '1 millisecond'), claimed_by = NULL, last_error = $3
WHERE seq = $1 AND claimed_by = $4`
		s.parkSQL = `UPDATE ` + t + ` SET parked_at = now(), parked_reason = $2, last_error = $3, claimed_until = NULL, claimed_by = NULL
WHERE seq = $1 AND claimed_by = $4 AND sent_at IS NULL`
		// A row released was not published: its claim does not count as an attempt.
		s.releaseSQL = `UPDATE ` + t + ` SET claimed_until = NULL, claimed_by = NULL, attempts = GREATEST(attempts - 1, 0)
WHERE seq = ANY($1) AND claimed_by = $2`
		s.cleanupSQL = `DELETE FROM ` + t + ` WHERE seq IN (
	SELECT seq FROM ` + t + ` WHERE sent_at < now() - ($1::float8 * interval '1 millisecond')
	ORDER BY sent_at LIMIT $2 FOR UPDATE SKIP LOCKED)`
		return s
	}
	// SQLite: one relay per file, so nothing is claimed. A pending row is published
	// when it is free (not backing off) and no earlier pending row of its key is
	// backing off; the earlier free rows of its key come before it in the same
	// batch. Parked rows are out of the way.
	s.claimSQL = `SELECT ` + cols + `, CAST($1 - o.created_at AS REAL) FROM ` + t + ` o
WHERE o.sent_at IS NULL AND o.parked_at IS NULL
  AND (o.claimed_until IS NULL OR o.claimed_until <= $1)
  AND (o.ordering_key = '' OR NOT EXISTS (
	SELECT 1 FROM ` + t + ` e
	WHERE e.ordering_key = o.ordering_key AND e.sent_at IS NULL AND e.parked_at IS NULL AND e.seq < o.seq AND e.claimed_until > $1))
ORDER BY o.seq
LIMIT $2`
	s.markSQL = `UPDATE ` + t + ` SET sent_at = $1, attempts = attempts + 1, claimed_until = NULL, last_error = NULL
WHERE seq IN (SELECT value FROM json_each($2)) AND sent_at IS NULL`
	s.failSQL = `UPDATE ` + t + ` SET claimed_until = $2, attempts = attempts + 1, last_error = $3 WHERE seq = $1`
	s.parkSQL = `UPDATE ` + t + ` SET parked_at = $2, parked_reason = $3, last_error = $4, attempts = attempts + 1, claimed_until = NULL
WHERE seq = $1 AND sent_at IS NULL`
	s.cleanupSQL = `DELETE FROM ` + t + ` WHERE seq IN (
	SELECT seq FROM ` + t + ` WHERE sent_at IS NOT NULL AND sent_at < $1 ORDER BY sent_at LIMIT $2)`
	return s
}

// claim returns up to limit rows to publish, in seq order, leased for lease
// (PostgreSQL). locked (SQLite) reads them under the database's write lock, so
// that a transaction that is adding rows commits (or rolls back) first: the
// read waits for it, within the busy timeout.
func (s *store) claim(ctx context.Context, limit int, lease time.Duration, locked bool) ([]row, error) {
	if s.dialect == Postgres {
		return s.claimFrom(ctx, s.db, int64(limit), millis(lease), s.owner)
	}
	if !locked {
		return s.claimFrom(ctx, s.db, time.Now().UnixMilli(), int64(limit))
	}
	var out []row
	err := s.db.InTx(ctx, true, func(q querier) error {
		var err error
		out, err = s.claimFrom(ctx, q, time.Now().UnixMilli(), int64(limit))
		return err
	})
	return out, err
}

func (s *store) claimFrom(ctx context.Context, q querier, args ...any) ([]row, error) {
	start := time.Now()
	r, err := q.Query(ctx, s.claimSQL, args...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []row
	for r.Next() {
		var (
			rw      row
			headers string
			age     float64 // milliseconds since created_at, at the claim
		)
		if err := r.Scan(&rw.seq, &rw.msg.ID, &rw.msg.Type, &rw.msg.Key, &headers, &rw.msg.Body, &rw.attempts, &age); err != nil {
			return nil, err
		}
		rw.added = start.Add(-time.Duration(age * float64(time.Millisecond)))
		if err := json.Unmarshal([]byte(headers), &rw.msg.Headers); err != nil {
			return nil, fmt.Errorf("row %d: headers: %w", rw.seq, err)
		}
		if rw.msg.Body == nil {
			rw.msg.Body = []byte{}
		}
		out = append(out, rw)
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out, nil
}

// markSent records that the rows were published. It returns how many it marked:
// fewer than len(seqs) when this relay's lease on some ran out and another relay
// took them over.
func (s *store) markSent(ctx context.Context, seqs []int64) (int64, error) {
	if len(seqs) == 0 {
		return 0, nil
	}
	if s.dialect == Postgres {
		return s.db.Exec(ctx, s.markSQL, seqs, s.owner)
	}
	return s.db.Exec(ctx, s.markSQL, time.Now().UnixMilli(), seqList(seqs))
}

// fail records a failed publication of row seq: it is not tried again for delay.
func (s *store) fail(ctx context.Context, seq int64, delay time.Duration, cause error) error {
	msg := errorText(cause)
	if s.dialect == Postgres {
		_, err := s.db.Exec(ctx, s.failSQL, seq, millis(delay), msg, s.owner)
		return err
	}
	_, err := s.db.Exec(ctx, s.failSQL, seq, time.Now().Add(delay).UnixMilli(), msg)
	return err
}

// park sets row seq aside for reason, after its publication failed with cause:
// the relay no longer tries it, and it holds back nothing, until ReplayParked.
func (s *store) park(ctx context.Context, seq int64, reason ParkReason, cause error) (bool, error) {
	var (
		n   int64
		err error
	)
	if s.dialect == Postgres {
		n, err = s.db.Exec(ctx, s.parkSQL, seq, string(reason), errorText(cause), s.owner)
	} else {
		n, err = s.db.Exec(ctx, s.parkSQL, seq, time.Now().UnixMilli(), string(reason), errorText(cause))
	}
	return n > 0, err
}

// release gives up the claims on rows that were not published (PostgreSQL).
func (s *store) release(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 || s.dialect != Postgres {
		return nil
	}
	_, err := s.db.Exec(ctx, s.releaseSQL, seqs, s.owner)
	return err
}

// cleanup deletes up to limit rows sent more than retention ago.
func (s *store) cleanup(ctx context.Context, retention time.Duration, limit int) (int64, error) {
	if s.dialect == Postgres {
		return s.db.Exec(ctx, s.cleanupSQL, millis(retention), int64(limit))
	}
	return s.db.Exec(ctx, s.cleanupSQL, time.Now().Add(-retention).UnixMilli(), int64(limit))
}

// seqList is seqs as a JSON array, for SQLite's json_each.
func seqList(seqs []int64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range seqs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(s, 10))
	}
	b.WriteByte(']')
	return b.String()
}

// millis is d in milliseconds, as PostgreSQL's interval arithmetic takes it.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// errorText is err's text as it fits a TEXT column: valid UTF-8 without NUL, at
// most 1024 bytes.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	s := strings.ToValidUTF8(err.Error(), "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) > 1024 {
		n := 1024
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return s
}
