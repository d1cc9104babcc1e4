package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/jetstream"
	"github.com/rampart-go/rampart/bus/rabbitmq"
)

// dlqFlags are the flags of "rampart dlq" and its subcommands.
type dlqFlags struct {
	transport, url, prefix string
	fullHeaders            bool

	types, reasons []string
	since, until   string
	all, dryRun    bool
	yes            bool
	limit          int
}

// newDlqCmd returns "rampart dlq".
func newDlqCmd(stdout, stderr io.Writer) *cobra.Command {
	f := &dlqFlags{}
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List, show, replay, purge, export and import dead letters",
		Long: `Manage the dead-letter queue of a subscription on the broker.

  rampart dlq list welcome-email --reason permanent-error
  rampart dlq show welcome-email ID
  rampart dlq replay welcome-email --all --dry-run
  rampart dlq purge welcome-email --since 24h --yes
  rampart dlq export welcome-email > dead.jsonl
  rampart dlq import welcome-email < dead.jsonl

Replay sends each message back to the subscription's work queue only, with its
attempt count reset and rampart-replayed-at / rampart-replay-count set, and
removes it from the dead-letter queue once the broker confirmed the copy.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.transport, "transport", "rabbitmq", `broker: "rabbitmq" or "jetstream"`)
	pf.StringVar(&f.url, "url", "", "broker URL (default $RAMPART_URL, else amqp://guest:guest@localhost:5672/ for rabbitmq and nats://127.0.0.1:4222 for jetstream)")
	pf.StringVar(&f.prefix, "prefix", "rampart", "the transport's prefix of queue and stream names")
	pf.BoolVar(&f.fullHeaders, "full-headers", false, "replay and import with every envelope header as a header of its own, the form consumers of every earlier version read (during a rolling upgrade)")

	filters := func(c *cobra.Command) {
		c.Flags().StringSliceVar(&f.types, "type", nil, "only messages of these event types")
		c.Flags().StringSliceVar(&f.reasons, "reason", nil, "only messages dead-lettered for these reasons (undecodable, unknown-type, permanent-error, max-attempts)")
		c.Flags().StringVar(&f.since, "since", "", "only messages that failed at or after this time (RFC 3339, or a duration ago such as 24h)")
		c.Flags().StringVar(&f.until, "until", "", "only messages that failed before this time (RFC 3339, or a duration ago)")
	}
	sub := func(use, short string, args cobra.PositionalArgs, fn dlqRun) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: args,
			RunE: func(c *cobra.Command, args []string) error { return f.run(c, args, stdout, stderr, fn) },
		}
	}
	list := sub("list SUBSCRIPTION", "List the dead letters of a subscription, with counts by reason", cobra.ExactArgs(1), f.list)
	filters(list)
	show := sub("show SUBSCRIPTION ID", "Show one dead letter: envelope, headers, failure history, body", cobra.ExactArgs(2), f.show)
	replay := sub("replay SUBSCRIPTION [ID...]", "Send dead letters back to the subscription's queue: by ID, by filter, or --all", cobra.MinimumNArgs(1), f.replay)
	filters(replay)
	replay.Flags().BoolVar(&f.all, "all", false, "replay every dead letter of the subscription")
	replay.Flags().BoolVar(&f.dryRun, "dry-run", false, "print what would be replayed, change nothing")
	replay.Flags().IntVar(&f.limit, "limit", 0, "replay at most this many (0: no limit)")
	purge := sub("purge SUBSCRIPTION", "Delete dead letters (all, or those the filters select)", cobra.ExactArgs(1), f.purge)
	filters(purge)
	purge.Flags().BoolVar(&f.yes, "yes", false, "do not ask for confirmation (required when stdin is not a terminal)")
	export := sub("export SUBSCRIPTION", "Write dead letters to stdout as JSON lines (they stay in the queue)", cobra.ExactArgs(1), f.export)
	filters(export)
	imp := sub("import SUBSCRIPTION", "Read JSON lines from stdin (as export writes them) into the dead-letter queue", cobra.ExactArgs(1), f.importCmd)
	cmd.AddCommand(list, show, replay, purge, export, imp)
	return cmd
}

// dlqRun is what one subcommand does with the transport.
type dlqRun func(ctx context.Context, c *cobra.Command, tr bus.DeadLetterManager, args []string, stdout, stderr io.Writer) error

// run connects to the broker, runs fn, and closes the connection.
func (f *dlqFlags) run(c *cobra.Command, args []string, stdout, stderr io.Writer, fn dlqRun) error {
	ctx := c.Context()
	tr, closeTr, err := f.open(ctx, c)
	if err != nil {
		return err
	}
	defer closeTr()
	return fn(ctx, c, tr, args, stdout, stderr)
}

// open connects to the broker that the flags name.
func (f *dlqFlags) open(ctx context.Context, c *cobra.Command) (bus.DeadLetterManager, func(), error) {
	url := f.url
	if url == "" {
		url = os.Getenv("RAMPART_URL")
	}
	switch f.transport {
	case "rabbitmq":
		if url == "" {
			url = "amqp://guest:guest@localhost:5672/"
		}
		dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		tr, err := rabbitmq.New(dctx, url, rabbitmq.Options{Name: "rampart dlq", Prefix: f.prefix, EnvelopeInTable: f.fullHeaders})
		if err != nil {
			return nil, nil, err // a *rabbitmq.DialError says what is wrong
		}
		return tr, func() { tr.Close() }, nil
	case "jetstream":
		if url == "" {
			url = "nats://127.0.0.1:4222"
		}
		dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		tr, err := jetstream.Connect(dctx, url, jetstream.Options{Name: "rampart dlq", Prefix: f.prefix, FullHeaders: f.fullHeaders})
		if err != nil {
			return nil, nil, err
		}
		return tr, func() { tr.Close() }, nil
	}
	return nil, nil, flagError(c, "transport", "%q is not \"rabbitmq\" or \"jetstream\"", f.transport)
}

// filter returns the filter the flags select, nil for all, and whether any
// filter flag was given.
func (f *dlqFlags) filter(c *cobra.Command, now time.Time) (func(bus.Message) bool, bool, error) {
	since, err := parseWhen(f.since, now)
	if err != nil {
		return nil, false, flagError(c, "since", "%v", err)
	}
	until, err := parseWhen(f.until, now)
	if err != nil {
		return nil, false, flagError(c, "until", "%v", err)
	}
	if len(f.types) == 0 && len(f.reasons) == 0 && since.IsZero() && until.IsZero() {
		return nil, false, nil
	}
	return func(m bus.Message) bool {
		if len(f.types) > 0 && !slices.Contains(f.types, m.Type) {
			return false
		}
		dl, _ := bus.ParseDeadLetter(m.Headers)
		if len(f.reasons) > 0 && !slices.Contains(f.reasons, string(dl.Reason)) {
			return false
		}
		at := dl.LastFailure
		if !since.IsZero() && at.Before(since) {
			return false
		}
		if !until.IsZero() && !at.Before(until) {
			return false
		}
		return true
	}, true, nil
}

// parseWhen reads an RFC 3339 time or a duration before now; "" is the zero time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration such as 24h", s)
	}
	return t, nil
}

// selected returns the dead letters of sub that the filter selects.
func selected(ctx context.Context, tr bus.DeadLetterManager, sub string, match func(bus.Message) bool) (bus.DeadLetterQueueInfo, []bus.Message, error) {
	info, err := tr.DeadLetterQueue(ctx, sub)
	if err != nil {
		return info, nil, err
	}
	msgs, err := tr.DeadLetters(ctx, sub, 0)
	if err != nil {
		return info, nil, err
	}
	if match == nil {
		return info, msgs, nil
	}
	return info, slices.DeleteFunc(msgs, func(m bus.Message) bool { return !match(m) }), nil
}

func (f *dlqFlags) list(ctx context.Context, c *cobra.Command, tr bus.DeadLetterManager, args []string, stdout, _ io.Writer) error {
	match, _, err := f.filter(c, time.Now())
	if err != nil {
		return err
	}
	info, msgs, err := selected(ctx, tr, args[0], match)
	if err != nil {
		return err
	}
	writeTable(stdout, msgs)
	fmt.Fprintf(stdout, "\n%d of %d dead letters in %s%s\n", len(msgs), info.Messages, info.Name, reasonCounts(msgs))
	return nil
}

// writeTable writes one line per message.
func writeTable(w io.Writer, msgs []bus.Message) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tREASON\tATTEMPTS\tFAILED AT\tERROR")
	for _, m := range msgs {
		dl, _ := bus.ParseDeadLetter(m.Headers)
		failed := ""
		if !dl.LastFailure.IsZero() {
			failed = dl.LastFailure.UTC().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", m.ID, m.Type, dl.Reason, dl.Attempts, failed, oneLine(dl.Error, 50))
	}
	tw.Flush()
}

// reasonCounts returns ": 2 permanent-error, 1 max-attempts", most first.
func reasonCounts(msgs []bus.Message) string {
	counts := map[string]int{}
	for _, m := range msgs {
		r := m.Headers[bus.HeaderDLQReason]
		if r == "" {
			r = "(no reason)"
		}
		counts[r]++
	}
	keys := slices.Sorted(maps.Keys(counts))
	slices.SortStableFunc(keys, func(a, b string) int { return counts[b] - counts[a] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", counts[k], k)
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, ", ")
}

// oneLine puts s on one line, cut to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func (f *dlqFlags) show(ctx context.Context, _ *cobra.Command, tr bus.DeadLetterManager, args []string, stdout, _ io.Writer) error {
	info, msgs, err := selected(ctx, tr, args[0], func(m bus.Message) bool { return m.ID == args[1] })
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		return fmt.Errorf("dlq: no message %s in %s", args[1], info.Name)
	}
	m := msgs[0]
	h := m.Headers
	shown := map[string]bool{}
	section := func(title string, rows [][2]string) {
		fmt.Fprintln(stdout, title)
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, r := range rows {
			shown[r[0]] = true
			if v, ok := h[r[0]]; ok {
				fmt.Fprintf(tw, "  %s\t%s\n", r[1], v)
			}
		}
		tw.Flush()
	}
	section("Envelope", [][2]string{
		{bus.HeaderID, "id"}, {bus.HeaderType, "type"}, {bus.HeaderSource, "source"}, {bus.HeaderTime, "time"},
		{bus.HeaderSubject, "subject"}, {bus.HeaderPartitionKey, "partition key"}, {bus.HeaderContentType, "content type"},
		{bus.HeaderCorrelationID, "correlation id"}, {bus.HeaderCausationID, "causation id"}, {bus.HeaderSpecVersion, "spec version"},
	})
	section("Failure", [][2]string{
		{bus.HeaderDLQReason, "reason"}, {bus.HeaderDLQSubscription, "subscription"}, {bus.HeaderDLQAttempts, "attempts"},
		{bus.HeaderDLQFirstFailure, "first failure"}, {bus.HeaderDLQLastFailure, "last failure"},
		{bus.HeaderDLQErrorType, "error type"}, {bus.HeaderDLQError, "error"}, {bus.HeaderLastError, "last retried error"},
		{bus.HeaderDLQOrigin, "origin"}, {bus.HeaderReplayCount, "replayed"}, {bus.HeaderReplayedAt, "last replayed at"},
	})
	var rest [][2]string
	for _, k := range slices.Sorted(maps.Keys(h)) {
		if !shown[k] {
			rest = append(rest, [2]string{k, k})
		}
	}
	section("Other headers", rest)
	fmt.Fprintf(stdout, "Body (%d bytes)\n", len(m.Body))
	var pretty bytes.Buffer
	if json.Indent(&pretty, m.Body, "  ", "  ") == nil {
		fmt.Fprintf(stdout, "  %s\n", pretty.Bytes())
	} else {
		fmt.Fprintf(stdout, "  %q\n", m.Body)
	}
	return nil
}

func (f *dlqFlags) replay(ctx context.Context, c *cobra.Command, tr bus.DeadLetterManager, args []string, stdout, stderr io.Writer) error {
	sub, ids := args[0], args[1:]
	match, filtered, err := f.filter(c, time.Now())
	if err != nil {
		return err
	}
	switch {
	case len(ids) > 0 && (f.all || filtered):
		return fmt.Errorf("dlq replay: give IDs, or --all, or filters, not several\nRun '%s --help' for the flags", c.CommandPath())
	case f.all && filtered:
		return flagError(c, "all", "cannot be given with filters")
	case len(ids) == 0 && !f.all && !filtered:
		return fmt.Errorf("dlq replay: say which messages: IDs, --all, or filters (--type, --reason, --since, --until)\nRun '%s --help' for the flags", c.CommandPath())
	case len(ids) > 0:
		match = func(m bus.Message) bool { return slices.Contains(ids, m.ID) }
	}
	opts := bus.ReplayOptions{Match: match, Limit: f.limit, DryRun: f.dryRun}
	if !f.dryRun {
		opts.Progress = progressPrinter(stderr, "replayed")
	}
	res, err := tr.ReplayDeadLetters(ctx, sub, opts)
	if f.dryRun && err == nil {
		writeTable(stdout, res.Replayed)
		fmt.Fprintf(stdout, "\ndry run: would replay %d dead letters%s; %d would stay\n", len(res.Replayed), reasonCounts(res.Replayed), res.Kept)
		return nil
	}
	fmt.Fprintf(stdout, "replayed %d dead letters to %s's queue%s; %d stay in the dead-letter queue\n", len(res.Replayed), sub, reasonCounts(res.Replayed), res.Kept)
	if len(ids) > 0 && err == nil {
		if missing := missingIDs(ids, res.Replayed); len(missing) > 0 {
			return fmt.Errorf("dlq replay: not found in the dead-letter queue: %s", strings.Join(missing, ", "))
		}
	}
	return err
}

// missingIDs returns the ids no message of msgs has.
func missingIDs(ids []string, msgs []bus.Message) []string {
	var out []string
	for _, id := range ids {
		if !slices.ContainsFunc(msgs, func(m bus.Message) bool { return m.ID == id }) {
			out = append(out, id)
		}
	}
	return out
}

// progressPrinter returns a progress callback that writes to w for long runs:
// more than 10 messages, about every tenth.
func progressPrinter(w io.Writer, verb string) func(done, total int) {
	return func(done, total int) {
		if total <= 10 {
			return
		}
		if step := max(1, total/10); done%step == 0 || done == total {
			fmt.Fprintf(w, "%s %d/%d (%d%%)\n", verb, done, total, done*100/total)
		}
	}
}

func (f *dlqFlags) purge(ctx context.Context, c *cobra.Command, tr bus.DeadLetterManager, args []string, stdout, stderr io.Writer) error {
	sub := args[0]
	match, _, err := f.filter(c, time.Now())
	if err != nil {
		return err
	}
	if !f.yes {
		in, ok := c.InOrStdin().(*os.File)
		if !ok || !isatty.IsTerminal(in.Fd()) {
			return fmt.Errorf("dlq purge: refusing to purge without --yes: stdin is not a terminal to confirm on")
		}
		info, msgs, err := selected(ctx, tr, sub, match)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Delete %d of %d dead letters in %s for good? [y/N] ", len(msgs), info.Messages, info.Name)
		answer, _ := bufio.NewReader(in).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return errors.New("dlq purge: not confirmed; nothing deleted")
		}
	}
	n, err := tr.PurgeDeadLetters(ctx, sub, match)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "purged %d dead letters of %s\n", n, sub)
	return nil
}

// exported is one line of "rampart dlq export": the message with its headers,
// and its body as JSON when it is JSON, else in base64.
type exported struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Key        string            `json:"key,omitempty"`
	Headers    map[string]string `json:"headers"`
	Body       json.RawMessage   `json:"body,omitempty"`
	BodyBase64 string            `json:"body_base64,omitempty"`
}

func (f *dlqFlags) export(ctx context.Context, c *cobra.Command, tr bus.DeadLetterManager, args []string, stdout, stderr io.Writer) error {
	match, _, err := f.filter(c, time.Now())
	if err != nil {
		return err
	}
	info, msgs, err := selected(ctx, tr, args[0], match)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, m := range msgs {
		e := exported{ID: m.ID, Type: m.Type, Key: m.Key, Headers: m.Headers}
		if json.Valid(m.Body) && compact(m.Body) {
			e.Body = m.Body
		} else if len(m.Body) > 0 {
			e.BodyBase64 = base64.StdEncoding.EncodeToString(m.Body)
		}
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("dlq export: %w", err)
		}
	}
	fmt.Fprintf(stderr, "exported %d dead letters of %s\n", len(msgs), info.Name)
	return nil
}

// compact reports whether body is JSON that survives encoding unchanged: no
// insignificant whitespace (which json.Encoder would remove from a RawMessage).
func compact(body []byte) bool {
	var b bytes.Buffer
	return json.Compact(&b, body) == nil && bytes.Equal(b.Bytes(), body)
}

func (f *dlqFlags) importCmd(ctx context.Context, c *cobra.Command, tr bus.DeadLetterManager, args []string, stdout, _ io.Writer) error {
	sc := bufio.NewScanner(c.InOrStdin())
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	var msgs []bus.Message
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e exported
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("dlq import: line %d: %w", line, err)
		}
		m := bus.Message{ID: e.ID, Type: e.Type, Key: e.Key, Headers: e.Headers, Body: []byte(e.Body)}
		if e.BodyBase64 != "" {
			b, err := base64.StdEncoding.DecodeString(e.BodyBase64)
			if err != nil {
				return fmt.Errorf("dlq import: line %d: body_base64: %w", line, err)
			}
			m.Body = b
		}
		msgs = append(msgs, m)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("dlq import: reading stdin: %w", err)
	}
	if err := tr.ImportDeadLetters(ctx, args[0], msgs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d dead letters into %s's dead-letter queue\n", len(msgs), args[0])
	return nil
}
