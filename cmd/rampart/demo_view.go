package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rampart-go/rampart/internal/sim"
	"github.com/rampart-go/rampart/resilience"
)

const (
	viewWidth     = 80 // no line of the live display is wider
	liveMarks     = 56 // marks of the breaker's timeline in the live display (14s)
	summaryMarks  = 60 // marks a row in the summary (15s)
	progressWidth = 36
)

// view draws the demo: an introduction, then either a block redrawn in place (on a
// terminal) or a plain line every few seconds, then the summary.
type view struct {
	d          *demo
	out        io.Writer
	p          painter
	live       bool
	drawn      int // lines of the live block on screen
	lastPlain  time.Time
	plainEvery time.Duration
	hid        bool // the cursor is hidden
	width      int  // columns to fill at most
}

func newView(d *demo) *view {
	return &view{
		d:          d,
		out:        d.opts.out,
		p:          painter(d.opts.color),
		live:       d.opts.live,
		plainEvery: min(max(d.opts.duration/10, time.Second), 5*time.Second),
		width:      textWidth(d.opts.out, d.opts.live),
	}
}

// textWidth is the width to write to out: viewWidth, or less on a narrower terminal.
func textWidth(out io.Writer, live bool) int {
	if tw := termWidth(out); live && tw > 0 && tw-1 < viewWidth {
		return max(tw-1, 40)
	}
	return viewWidth
}

func (v *view) printf(format string, args ...any) { fmt.Fprintf(v.out, format, args...) }

// intro says what is about to happen, and what each policy does.
func (v *view) intro() {
	o := v.d.opts
	p := v.p
	v.printf("%s\n\n", p.paint(ansiBold, "Rampart demo: resilience policies against a flaky upstream"))
	v.printf("%s\n", wrap(fmt.Sprintf("Your code calls an upstream service (a fake one, at %s) %s times a second for %s. %s",
		v.d.url, trimFloat(o.rate), roundDur(o.duration), describeUpstream(o.upstream)), v.width, ""))
	v.printf("\nEvery call goes through five policies, each wrapped around the next:\n")
	for _, item := range v.policyLegend() {
		v.printf("%s\n", wrap(item[1], v.width, "  "+p.paint(ansiCyan, fmt.Sprintf("%-16s", item[0]))+" "))
	}
	v.printf("\n%s\n\n", v.markLegend())
	if v.live {
		v.printf("%s", ansiHideCur)
		v.hid = true
	}
}

// policyLegend explains each policy of the pipeline, outermost first.
func (v *view) policyLegend() [][2]string {
	return [][2]string{
		{"fallback", fmt.Sprintf("when all below fails, answer from a cache of the last good answer, if it is less than %s old", roundDur(demoCacheMaxAge))},
		{"total timeout", fmt.Sprintf("give a call %s at most, retries included", roundDur(demoTotalTimeout))},
		{"retry", fmt.Sprintf("after a failed try, try again (%d tries in all), first waiting a random time up to %s, then up to %s, or what the upstream asks for in Retry-After (%s at most); not when the breaker refused the try",
			demoMaxAttempts, roundDur(demoBackoffBase), roundDur(2*demoBackoffBase), roundDur(demoMaxRetryAfter))},
		{"circuit breaker", fmt.Sprintf("when half of the tries of the last %s failed (%d tries at least), open: refuse every try at once for %s, without calling the upstream; then half-open: let one test try through, and close again if it works",
			roundDur(demoBreakerWindow), breakerMinThroughput(v.d.opts.rate), roundDur(demoBreakDuration))},
		{"attempt timeout", fmt.Sprintf("give one try %s at most", roundDur(demoAttemptTimeout))},
	}
}

func (v *view) markLegend() string {
	return fmt.Sprintf("Breaker timeline (one mark per %s):  %s closed   %s open   %s half-open",
		roundDur(demoSlot), v.mark(resilience.StateClosed), v.mark(resilience.StateOpen), v.mark(resilience.StateHalfOpen))
}

// mark is the timeline's mark for a state.
func (v *view) mark(s resilience.BreakerState) string {
	switch s {
	case resilience.StateClosed:
		return v.p.paint(ansiGreen, "▁")
	case resilience.StateHalfOpen:
		return v.p.paint(ansiYellow, "▄")
	}
	return v.p.paint(ansiRed, "█")
}

func (v *view) marks(slots []resilience.BreakerState) string {
	var b strings.Builder
	for _, s := range slots {
		b.WriteString(v.mark(s))
	}
	return b.String()
}

// frame draws the live block, or a plain line when one is due.
func (v *view) frame(now time.Time, finishing bool) {
	if !v.live {
		if v.lastPlain.IsZero() {
			v.lastPlain = v.d.start
		}
		if now.Sub(v.lastPlain) >= v.plainEvery-demoSlot/2 { // frames tick every demoSlot
			v.lastPlain = now
			v.printf("%s\n", v.plainLine(now.Sub(v.d.start)))
		}
		return
	}
	lines := v.liveLines(now.Sub(v.d.start), finishing)
	if v.width < viewWidth {
		for i, l := range lines {
			lines[i] = truncateVisible(l, v.width) // a wrapped line would break the redraw
		}
	}
	var b strings.Builder
	if v.drawn > 0 {
		b.WriteString(ansiUp(v.drawn))
	}
	for _, l := range lines {
		b.WriteString(ansiClearLine)
		b.WriteString(l)
		b.WriteByte('\n')
	}
	v.drawn = len(lines)
	_, _ = io.WriteString(v.out, b.String())
}

// liveLines is the block the live display redraws.
func (v *view) liveLines(elapsed time.Duration, finishing bool) []string {
	d, p, t := v.d, v.p, &v.d.t
	dur := d.opts.duration
	done := min(elapsed, dur)
	filled := int(float64(progressWidth) * float64(done) / float64(dur))
	bar := p.paint(ansiCyan, strings.Repeat("━", filled)) + p.paint(ansiDim, strings.Repeat("─", progressWidth-filled))
	upstream := p.paint(ansiGreen, "up")
	if d.upstream.InOutage() {
		upstream = p.paint(ansiRed, "DOWN (outage)")
	}
	clock := fmt.Sprintf("%5.1fs of %s", done.Seconds(), roundDur(dur))
	if finishing {
		clock = "finishing    "
	}

	made, first, rec, fb, failed := t.made.Load(), t.firstTry.Load(), t.recovered.Load(), t.fallback.Load(), t.failed.Load()
	under := made - first - rec - fb - failed
	state := d.breaker.State()
	stateWord := map[resilience.BreakerState]string{
		resilience.StateClosed:   p.paint(ansiGreen, "closed   "),
		resilience.StateOpen:     p.paint(ansiRed, "OPEN     "),
		resilience.StateHalfOpen: p.paint(ansiYellow, "half-open"),
		resilience.StateIsolated: p.paint(ansiRed, "isolated "),
	}[state]
	slots := d.tl.all()
	if len(slots) > liveMarks {
		slots = slots[len(slots)-liveMarks:]
	}
	total := ""
	if n := t.evTotalTimeout.Load(); n > 0 {
		total = fmt.Sprintf("; %s calls hit the %s limit", group(n), roundDur(demoTotalTimeout))
	}
	num := func(code string, n int64) string { return p.paint(code, fmt.Sprintf("%6s", group(n))) }
	return []string{
		fmt.Sprintf("  %s  %s  upstream %s", clock, bar, upstream),
		"",
		fmt.Sprintf("  calls      %s  made by your code so far, %s under way", num(ansiBold, made), group(under)),
		fmt.Sprintf("  succeeded  %s  answered by the upstream; %s after a retry", num(ansiGreen, first+rec), group(rec)),
		fmt.Sprintf("  fallback   %s  from the cache; %s while the breaker was open", num(ansiYellow, fb), group(t.fallbackOpen.Load())),
		fmt.Sprintf("  failed     %s  got an error (the cache was empty or too old)", num(ansiRed, failed)),
		"",
		fmt.Sprintf("  retried    %s  extra tries; %s waited as Retry-After asked", num("", t.evRetry.Load()), group(t.evRetryAfter.Load())),
		fmt.Sprintf("  rejected   %s  tries the open breaker refused, sparing the upstream", num("", t.evRejected.Load())),
		fmt.Sprintf("  timed out  %s  tries cut off at %s%s", num("", t.evAttemptTimeout.Load()), roundDur(demoAttemptTimeout), total),
		"",
		fmt.Sprintf("  breaker    %s  %s", stateWord, v.marks(slots)),
	}
}

// plainLine is one line of the display when out is not a terminal.
func (v *view) plainLine(elapsed time.Duration) string {
	d, t := v.d, &v.d.t
	upstream := "up"
	if d.upstream.InOutage() {
		upstream = "DOWN"
	}
	return fmt.Sprintf("[%5.1fs] calls %d: %d succeeded, %d fallback, %d failed | %d retried, %d rejected, %d timed out | breaker %s | upstream %s",
		elapsed.Seconds(), t.made.Load(), t.firstTry.Load()+t.recovered.Load(), t.fallback.Load(), t.failed.Load(),
		t.evRetry.Load(), t.evRejected.Load(), t.evAttemptTimeout.Load(), d.breaker.State(), upstream)
}

// final draws the last frame and the summary.
func (v *view) final(r *demoReport) {
	if v.live {
		v.frame(v.d.start.Add(r.Elapsed), false)
	}
	v.printf("\n%s\n", v.summary(r))
	v.close()
}

// close shows the cursor again.
func (v *view) close() {
	if v.hid {
		v.printf("%s", ansiShowCur)
		v.hid = false
	}
}

// summary explains in plain words what happened.
func (v *view) summary(r *demoReport) string {
	p := v.p
	d := v.d
	var b strings.Builder
	para := func(s string) { b.WriteString(wrap(s, v.width, "") + "\n\n") }
	item := func(s string) { b.WriteString(wrap(s, v.width, "  - ") + "\n") }

	title := fmt.Sprintf("Summary: what happened in %s", roundDur(r.Elapsed))
	if r.Interrupted {
		title += " (stopped early)"
	}
	b.WriteString(p.paint(ansiBold, title) + "\n\n")

	// The upstream.
	up := r.Upstream
	upFailed := int64(up.Failed() + up.Canceled)
	var what []string
	codes := make([]int, 0, len(up.ByStatus))
	for c := range up.ByStatus {
		if c >= 400 {
			codes = append(codes, c)
		}
	}
	slices.Sort(codes)
	outageMode := d.opts.upstream.Outage.Mode
	for _, c := range codes {
		s := fmt.Sprintf("%s answered %d", group(int64(up.ByStatus[c])), c)
		if c == 503 && up.Outage > 0 && outageMode != sim.OutageReset {
			s += fmt.Sprintf(" (%s of them during its outage)", group(int64(up.Outage)))
		}
		what = append(what, s)
	}
	if up.Resets > 0 {
		s := plural(int64(up.Resets), "connection was reset", "connections were reset")
		if up.Outage > 0 && outageMode == sim.OutageReset {
			s += fmt.Sprintf(" (%s during its outage)", group(int64(up.Outage)))
		}
		what = append(what, s)
	}
	if up.Hangs > 0 {
		what = append(what, fmt.Sprintf("%s never answered", group(int64(up.Hangs))))
	}
	if up.Canceled > 0 {
		what = append(what, plural(int64(up.Canceled), "was so slow that the caller gave up first", "were so slow that the caller gave up first"))
	}
	s := fmt.Sprintf("The upstream got %s and failed %s of them", plural(int64(up.Requests), "request", "requests"), p.paint(ansiRed, percent(upFailed, int64(up.Requests))))
	if len(what) > 0 {
		s += ": " + joinWords(what)
	}
	s += "."
	if o := d.opts.upstream.Outage; o.For > 0 && up.Outage > 0 && r.Trips > 0 {
		end := roundDur(o.After + o.For)
		if o.After+o.For > r.Elapsed {
			end = "the end"
		}
		s += fmt.Sprintf(" It was down from %s to %s, yet it got only %s then: the breaker kept calls away.",
			roundDur(o.After), end, plural(int64(up.Outage), "request", "requests"))
	}
	if extra := int64(up.Requests) - r.Attempts; extra > 0 {
		s += fmt.Sprintf(" (net/http itself sent %s of them again, after a reset on a connection it had reused.)", group(extra))
	}
	para(s)

	// The callers.
	answered := r.Succeeded() + r.Fallback
	para(fmt.Sprintf("Your code made %s: %s got an answer, and your callers saw %s failures (%s).",
		plural(r.Made, "call", "calls"), percent(answered, r.Made), p.paint(ansiBold, percent(r.Failed, r.Made)), plural(r.Failed, "call", "calls")))
	if r.Succeeded() > 0 {
		s := plural(r.Succeeded(), "was answered by the upstream", "were answered by the upstream")
		if r.Recovered > 0 {
			s += fmt.Sprintf("; retries recovered %s of them, which had failed at first (the retry policy made %s in all", group(r.Recovered), plural(r.Retries, "extra try", "extra tries"))
			if n := d.t.evRetryAfter.Load(); n > 0 {
				s += fmt.Sprintf(", %s of them after waiting as the upstream asked in Retry-After", group(n))
			}
			s += ")"
		}
		item(s + ".")
	}
	if r.Fallback > 0 {
		s := fmt.Sprintf("The fallback answered %s from its cache when the upstream could not", plural(r.Fallback, "call", "calls"))
		if n := d.t.fallbackOpen.Load(); n > 0 {
			s += fmt.Sprintf(", %s of them while the breaker was open", group(n))
		}
		item(s + ".")
	}
	if r.Failed > 0 {
		why := fmt.Sprintf("the upstream had not answered for over %s, so the fallback's cache was too old to use (or still empty)", roundDur(demoCacheMaxAge))
		s := plural(r.Failed, "call failed", "calls failed")
		switch n := d.t.failedNoCache.Load(); {
		case n == r.Failed:
			s += ": " + why
		case n > 0:
			s += fmt.Sprintf(": %s because %s, %s for other reasons", group(n), why, group(r.Failed-n))
		}
		item(s + ".")
	}
	if r.Skipped > 0 {
		item(fmt.Sprintf("%s not made, because %d were already under way.", plural(r.Skipped, "call was", "calls were"), d.opts.maxInFlight))
	}
	b.WriteString("\n")

	// The breaker.
	if r.Trips == 0 {
		para(fmt.Sprintf("The circuit breaker never opened: failures never reached half of the tries in a %s window.", roundDur(demoBreakerWindow)))
	} else {
		s := fmt.Sprintf("The circuit breaker opened %s. While open, it refused %s at once, without calling the upstream: callers did not wait on an upstream that was down, the fallback answered them at once, and the upstream was spared the load while it recovered.",
			times(r.Trips), plural(r.Rejected, "try", "tries"))
		if closed, failedProbes, ok := v.closedAfterOutage(); ok {
			s += fmt.Sprintf(" It closed again %s after the outage ended, when a test try got through.", roundDur(closed))
			if failedProbes > 0 {
				s += fmt.Sprintf(" (%s after the outage failed as well, since the upstream still fails some requests; each kept the breaker open %s more.)",
					plural(int64(failedProbes), "test try", "test tries"), roundDur(demoBreakDuration))
			}
		} else if st := d.breaker.State(); st != resilience.StateClosed {
			s += fmt.Sprintf(" It was still %s at the end.", st)
		}
		para(s)
	}

	// Timeouts.
	s = fmt.Sprintf("The attempt timeout cut off %s after %s (slow answers and hung requests)", plural(r.AttemptTimeouts, "try", "tries"), roundDur(demoAttemptTimeout))
	if r.TotalTimeouts > 0 {
		s += fmt.Sprintf(", and %s out of their %s in all", plural(r.TotalTimeouts, "call ran", "calls ran"), roundDur(demoTotalTimeout))
	}
	para(s + fmt.Sprintf(". The slowest call took %s.", roundDur(time.Duration(d.t.maxCall.Load()))))

	// The timeline.
	b.WriteString(v.markLegend() + "\n")
	for i := 0; i < len(r.Timeline); i += summaryMarks {
		row := r.Timeline[i:min(i+summaryMarks, len(r.Timeline))]
		fmt.Fprintf(&b, "  %4s  %s\n", roundDur(time.Duration(i)*demoSlot), v.marks(row))
	}
	b.WriteString("\n")

	// The cross-check.
	ok := p.paint(ansiGreen, "✓")
	if r.Made != r.Succeeded()+r.Fallback+r.Failed {
		ok = p.paint(ansiRed, "✗ these should add up: please report a bug")
	}
	fmt.Fprintf(&b, "Check: %s calls = %s succeeded + %s from the fallback + %s failed %s\n",
		group(r.Made), group(r.Succeeded()), group(r.Fallback), group(r.Failed), ok)
	fmt.Fprintf(&b, "Replay the upstream's choices with --seed %d.\n", d.opts.upstream.Seed)
	return b.String()
}

// closedAfterOutage returns how long after the end of the outage the breaker closed
// for good, and how many test tries failed between the two.
func (v *view) closedAfterOutage() (after time.Duration, failedProbes int, ok bool) {
	o := v.d.opts.upstream.Outage
	if o.For == 0 {
		return 0, 0, false
	}
	end := o.After + o.For
	h := v.d.tl.history()
	if len(h) == 0 || h[len(h)-1].to != resilience.StateClosed {
		return 0, 0, false
	}
	for _, c := range h {
		switch {
		case c.at < end:
		case c.from == resilience.StateHalfOpen && c.to == resilience.StateOpen:
			failedProbes++
		case c.to == resilience.StateClosed:
			return c.at - end, failedProbes, true
		}
	}
	return 0, 0, false
}

// plural writes n and the noun that agrees with it: "1 try", "2,000 tries".
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return group(n) + " " + many
}

func times(n int64) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return group(n) + " times"
}

// trimFloat writes 50 as "50" and 0.5 as "0.5".
func trimFloat(f float64) string {
	s := fmt.Sprintf("%.2f", f)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

// wrap breaks s into lines of at most width runes (not counting ANSI escapes); the
// first line starts with first, the others with as many spaces as first's width.
func wrap(s string, width int, first string) string {
	indent := strings.Repeat(" ", visibleLen(first))
	var b strings.Builder
	line, lineLen := first, visibleLen(first)
	empty := true
	for _, w := range strings.Fields(s) {
		wl := visibleLen(w)
		if !empty && lineLen+1+wl > width {
			b.WriteString(line + "\n")
			line, lineLen, empty = indent, len(indent), true
		}
		if !empty {
			line += " "
			lineLen++
		}
		line += w
		lineLen += wl
		empty = false
	}
	b.WriteString(line)
	return b.String()
}

// visibleLen is the number of runes of s that a terminal shows, skipping ANSI escapes.
func visibleLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b {
			j := strings.IndexAny(s[i:], "mAKlh")
			if j < 0 {
				break
			}
			i += j + 1
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return n
}

// truncateVisible cuts s to n visible runes, keeping its ANSI escapes (so that a
// colour is still reset).
func truncateVisible(s string, n int) string {
	var b strings.Builder
	shown := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b {
			j := strings.IndexAny(s[i:], "mAKlh")
			if j < 0 {
				break
			}
			b.WriteString(s[i : i+j+1])
			i += j + 1
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if shown < n {
			b.WriteRune(r)
			shown++
		}
		i += size
	}
	return b.String()
}
