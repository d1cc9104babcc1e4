package outbox

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// keepLock renews the SQLite relay lock, or takes it over when it is free.
func (r *Relay) keepLock(ctx context.Context) {
	every := r.opts.LockTTL / 3
	standby := min(every, r.opts.PollInterval*5) // how often a standby tries
	had := r.lock.held()
	t := time.NewTimer(every)
	if !had {
		t.Reset(standby)
	}
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		held, err := r.lock.acquire(ctx)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("outbox: renewing the relay lock", "err", err)
			held = r.lock.held() // still ours until it lapses
		case held && !had:
			r.log.Info("outbox: took the relay lock")
			r.Notify()
		case !held && had:
			r.log.Warn("outbox: lost the relay lock to another relay")
		}
		had = held
		if had {
			t.Reset(every)
		} else {
			t.Reset(standby)
		}
	}
}

// fileLock is the SQLite relay lock: one row with an owner and an expiry.
type fileLock struct {
	db    database
	table string
	owner string
	ttl   time.Duration
	epoch time.Time
	until atomic.Int64 // monotonic nanoseconds since epoch until which the lock is ours (with a margin)
}

func newFileLock(db database, table, owner string, ttl time.Duration) *fileLock {
	return &fileLock{db: db, table: table, owner: owner, ttl: ttl, epoch: time.Now()}
}

// acquire takes or renews the lock; it reports whether this relay holds it.
func (l *fileLock) acquire(ctx context.Context) (bool, error) {
	start := time.Since(l.epoch)
	now := time.Now()
	n, err := l.db.Exec(ctx, `INSERT INTO `+l.table+` (id, owner, acquired_at, expires_at) VALUES (1, $1, $2, $3)
ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,
	acquired_at = CASE WHEN `+l.table+`.owner = excluded.owner THEN `+l.table+`.acquired_at ELSE excluded.acquired_at END
WHERE `+l.table+`.owner = excluded.owner OR `+l.table+`.expires_at <= $2`,
		l.owner, now.UnixMilli(), now.Add(l.ttl).UnixMilli())
	if err != nil {
		return false, err
	}
	if n == 1 {
		l.until.Store(int64(start + l.ttl - l.ttl/5))
		return true, nil
	}
	l.until.Store(0)
	return false, nil
}

// held reports whether the lock is ours now.
func (l *fileLock) held() bool { return int64(time.Since(l.epoch)) < l.until.Load() }

// deadline is when the lock stops being ours unless renewed.
func (l *fileLock) deadline() time.Time { return l.epoch.Add(time.Duration(l.until.Load())) }

// holder returns a *LockedError naming the relay that holds the lock.
func (l *fileLock) holder(ctx context.Context) error {
	e := &LockedError{Table: l.table}
	r, err := l.db.Query(ctx, `SELECT owner, expires_at FROM `+l.table+` WHERE id = 1`)
	if err != nil {
		return errors.Join(e, err)
	}
	defer r.Close()
	if r.Next() {
		var ms int64
		if err := r.Scan(&e.Owner, &ms); err == nil {
			e.Until = time.UnixMilli(ms)
		}
	}
	return e
}

// release deletes the lock row if it is ours.
func (l *fileLock) release(ctx context.Context) error {
	l.until.Store(0)
	_, err := l.db.Exec(ctx, `DELETE FROM `+l.table+` WHERE id = 1 AND owner = $1`, l.owner)
	return err
}
