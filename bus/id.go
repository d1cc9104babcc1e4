package bus

import (
	"crypto/rand"
	"sync"
	"sync/atomic"
	"time"
)

// idSource makes event IDs: UUIDv7s (RFC 9562) laid out as github.com/google/uuid
// lays them out, with the 12 bits after the millisecond timestamp holding the
// sub-millisecond time in steps of 256ns, so that the IDs of one process increase
// strictly in the order they were made. The 62 random bits come from crypto/rand,
// read ahead in blocks: one read serves 64 IDs.
type idSource struct {
	mu   sync.Mutex
	last int64 // the last timestamp handed out: milliseconds<<12 | sub-millisecond steps
	rnd  [512]byte
	used int // bytes of rnd handed out; len(rnd) when it needs a refill
}

var ids = idSource{used: 512}

// next writes a new UUIDv7 for the time now to dst in canonical lower-case form.
func (g *idSource) next(dst []byte, now time.Time) {
	var u [16]byte
	nano := now.UnixNano()
	milli := nano / int64(time.Millisecond)
	ts := milli<<12 | (nano-milli*int64(time.Millisecond))>>8

	g.mu.Lock()
	if ts <= g.last {
		ts = g.last + 1
	}
	g.last = ts
	if g.used == len(g.rnd) {
		rand.Read(g.rnd[:]) // never fails: crypto/rand crashes the program instead
		g.used = 0
	}
	copy(u[8:], g.rnd[g.used:g.used+8])
	g.used += 8
	g.mu.Unlock()

	milli, seq := ts>>12, ts&0xfff
	u[0] = byte(milli >> 40)
	u[1] = byte(milli >> 32)
	u[2] = byte(milli >> 24)
	u[3] = byte(milli >> 16)
	u[4] = byte(milli >> 8)
	u[5] = byte(milli)
	u[6] = 0x70 | byte(seq>>8)&0x0f // version 7
	u[7] = byte(seq)
	u[8] = u[8]&0x3f | 0x80 // the RFC 9562 variant
	formatUUID(dst, &u)
}

// formatUUID writes u to dst[:36] as 8-4-4-4-12 lower-case hex digits.
func formatUUID(dst []byte, u *[16]byte) {
	const hex = "0123456789abcdef"
	_ = dst[35]
	j := 0
	for i, c := range u {
		switch i {
		case 4, 6, 8, 10:
			dst[j] = '-'
			j++
		}
		dst[j] = hex[c>>4]
		dst[j+1] = hex[c&0x0f]
		j += 2
	}
}

// appendTime appends t in UTC as time.RFC3339Nano formats it. The text of the
// date and time to the second is kept from the previous call in the same second,
// so that most calls only write the fraction.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	sec := t.Unix()
	c := lastSecond.Load()
	if c == nil || c.unix != sec {
		if y := t.Year(); y < 0 || y > 9999 {
			return t.AppendFormat(b, time.RFC3339Nano)
		}
		c = &secondText{unix: sec}
		t.Truncate(time.Second).AppendFormat(c.text[:0], "2006-01-02T15:04:05")
		lastSecond.Store(c)
	}
	b = append(b, c.text[:]...)
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i > 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z')
}

// secondText is the text of a second, YYYY-MM-DDTHH:MM:SS.
type secondText struct {
	unix int64
	text [19]byte
}

var lastSecond atomic.Pointer[secondText]
