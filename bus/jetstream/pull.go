package jetstream

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Pull requests.
const (
	// pullExpires is how long a pull request waits at the server for messages.
	pullExpires = 30 * time.Second
	// pullHeartbeat is how often the server tells a waiting pull request that it
	// is alive; two missed heartbeats and the request counts as lost.
	pullHeartbeat = 5 * time.Second
	// pullPause is the wait before asking again after the server refused a
	// pull request.
	pullPause = time.Second
)

// pullLoop asks the server for messages whenever the consumer has room, and
// watches that its pull requests are alive.
func (c *consumer) pullLoop() {
	defer c.wg.Done()
	timer := time.NewTimer(pullHeartbeat)
	defer timer.Stop()
	for {
		c.pull()
		select {
		case <-c.done:
			return
		case <-c.wake:
		case <-c.status:
			// A new connection: pull requests may have died with the old one.
			c.mu.Lock()
			c.requested = 0
			c.mu.Unlock()
		case <-timer.C:
			c.watch()
			timer.Reset(pullHeartbeat)
		}
	}
}

// pull sends a pull request for the room the consumer has, if enough is free.
func (c *consumer) pull() {
	nc := c.t.nc
	if !nc.IsConnected() {
		return // the reconnection wakes the loop
	}
	c.mu.Lock()
	room := c.prefetch - c.held - c.requested
	if c.closed.Load() || c.redeclare || room <= 0 || (c.requested > 0 && room < c.threshold) || time.Now().Before(c.pause) {
		c.mu.Unlock()
		return
	}
	if c.requested == 0 {
		c.lastSeen = time.Now()
	}
	c.requested += room
	c.mu.Unlock()
	req := make([]byte, 0, 80)
	req = append(req, `{"batch":`...)
	req = strconv.AppendInt(req, int64(room), 10)
	req = append(req, `,"expires":`...)
	req = strconv.AppendInt(req, int64(pullExpires), 10)
	req = append(req, `,"idle_heartbeat":`...)
	req = strconv.AppendInt(req, int64(pullHeartbeat), 10)
	req = append(req, '}')
	if err := nc.PublishRequest(c.next, c.nsub.Subject, req); err != nil {
		c.mu.Lock()
		c.requested = max(0, c.requested-room)
		c.mu.Unlock()
	}
}

// watch forgets pull requests that stopped sending heartbeats, and declares the
// server-side consumer again when it seems gone.
func (c *consumer) watch() {
	c.mu.Lock()
	if c.requested > 0 && time.Since(c.lastSeen) > 2*pullHeartbeat+time.Second {
		c.requested = 0
		c.redeclare = true
	}
	redeclare := c.redeclare
	c.mu.Unlock()
	if !redeclare || !c.t.nc.IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, noteTimeout)
	defer cancel()
	if _, err := c.t.declareConsumer(ctx, c.sub); err != nil {
		c.running.Store(false)
		c.t.setErr(err)
		c.t.opts.Logger.Error("jetstream: consumer not answering; declaring it again failed", "subscription", c.sub.Name, "err", err)
		return
	}
	c.mu.Lock()
	c.redeclare = false
	c.mu.Unlock()
	c.running.Store(true)
}

// onMsg receives what the server sends to the consumer's inbox: messages, and
// status messages about pull requests. It runs on the subscription's goroutine.
func (c *consumer) onMsg(m *nats.Msg) {
	if m.Reply == "" && len(m.Data) == 0 && m.Header.Get("Status") != "" {
		c.onStatus(m)
		return
	}
	d := &delivery{c: c, m: m}
	now := time.Now()
	d.touched.Store(now.UnixNano())
	c.mu.Lock()
	c.requested = max(0, c.requested-1)
	c.lastSeen = now
	if c.closed.Load() {
		c.mu.Unlock()
		c.t.nc.Publish(m.Reply, ackNak) // hand it back at once
		return
	}
	select {
	case c.queue <- d:
	default:
		// More than the pull requests asked for (a request thought lost came
		// back to life): hand it back.
		c.mu.Unlock()
		c.t.nc.Publish(m.Reply, ackNak)
		return
	}
	c.held++
	c.inflight[d] = struct{}{}
	c.mu.Unlock()
}

// onStatus accounts for a status message: a heartbeat, or the end of a pull
// request — it expired (408), or the server refused or cut it short (409: a
// leadership change, the consumer deleted, a limit of the consumer) — with the
// number of messages it did not deliver.
func (c *consumer) onStatus(m *nats.Msg) {
	code, desc := m.Header.Get("Status"), m.Header.Get("Description")
	c.mu.Lock()
	c.lastSeen = time.Now()
	if code == "100" { // idle heartbeat
		c.mu.Unlock()
		return
	}
	if n, err := strconv.Atoi(m.Header.Get("Nats-Pending-Messages")); err == nil && (code == "404" || code == "408" || code == "409") {
		c.requested = max(0, c.requested-n)
	} else {
		c.requested = 0
	}
	expired := code == "404" || code == "408"
	if !expired {
		// Do not ask again at once: the server may refuse again.
		c.pause = time.Now().Add(pullPause)
		if code == "503" || strings.Contains(strings.ToLower(desc), "consumer deleted") {
			c.redeclare = true
		}
	}
	c.mu.Unlock()
	if expired {
		signal(c.wake)
		return
	}
	c.t.opts.Logger.Warn("jetstream: pull request refused", "subscription", c.sub.Name, "status", code, "description", desc)
	time.AfterFunc(pullPause, func() { signal(c.wake) })
}

// release forgets a settled delivery and gives its room back, waking the pull
// loop only when enough room is free for a pull request.
func (c *consumer) release(d *delivery) {
	c.mu.Lock()
	delete(c.inflight, d)
	c.held--
	room := c.prefetch - c.held - c.requested
	need := !c.closed.Load() && room > 0 && (c.requested == 0 || room >= c.threshold)
	forget := c.closed.Load() && len(c.inflight) == 0
	c.mu.Unlock()
	if need {
		signal(c.wake)
	}
	if forget {
		c.forgetIfIdle()
	}
}

// due appends the deliveries c holds that are due an in-progress ack: held for
// half their AckWait since they arrived or since their last one.
func (c *consumer) due(now int64, out []*delivery) []*delivery {
	half := int64(c.sub.AckWait / 2)
	c.mu.Lock()
	defer c.mu.Unlock()
	for d := range c.inflight {
		if now-d.touched.Load() >= half {
			out = append(out, d)
		}
	}
	return out
}
