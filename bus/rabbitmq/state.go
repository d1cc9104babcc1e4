package rabbitmq

// The connection state, for health checks: *Transport satisfies
// health.ConnectionState without importing package health.

// Connected reports whether both connections of the transport (publishing and
// consuming) are up now.
func (t *Transport) Connected() bool {
	return t.pubLink.connected() && t.cons.connected()
}

// Blocked reports whether the broker is blocking publishing now (a memory or disk
// alarm): publishers wait, and fail when their deadline comes.
func (t *Transport) Blocked() bool {
	t.pubLink.mu.Lock()
	s := t.pubLink.cur
	t.pubLink.mu.Unlock()
	return s != nil && s.blocked.Load()
}

// ConsumersRunning returns the number of consumers whose channel is delivering
// now; a consumer resuming after a lost connection does not count until it has
// resumed.
func (t *Transport) ConsumersRunning() int { return int(t.consuming.Load()) }

// LastError returns why a connection last went down or failed to come back, or nil
// while both are up.
func (t *Transport) LastError() error {
	for _, l := range []*link{t.pubLink, t.cons} {
		l.mu.Lock()
		cur, err := l.cur, l.lastErr
		l.mu.Unlock()
		if cur == nil && err != nil {
			return err
		}
	}
	return nil
}

func (l *link) connected() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur != nil
}
