package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-go/rampart/bus/jetstream"
	"github.com/rampart-go/rampart/internal/testenv"
)

// rampart dlq on JetStream: see testDLQ.
func TestDLQJetStream(t *testing.T) {
	testDLQ(t, dlqScenario{
		service: testenv.NATS,
		prefix:  "rt_dlq_%08x",
		flags:   []string{"--transport", "jetstream"},
		connect: func(t *testing.T, ctx context.Context, url, prefix, _ string) dlqTransport {
			tr, err := jetstream.Connect(ctx, url, jetstream.Options{Name: "rampart-test", Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { tr.Close(); deleteJetStreamStreams(t, url, prefix) })
			return tr
		},
		list: func(prefix string) string {
			return "3 of 3 dead letters in " + prefix + "_DLQ subject " + prefix + ".dlq.welcome: 3 permanent-error"
		},
		show: func(prefix string) string { return "stream=" + prefix + "_EVENTS" },
		missing: func(prefix string) string {
			return fmt.Sprintf(`no dead-letter queue for subscription "nosuch" (looked for stream "%s_DLQ", subject "%s.dlq.nosuch"`, prefix, prefix)
		},
		badURL: func(t *testing.T, ctx context.Context, prefix, sub string) {
			_, _, err := executeIn(ctx, "", "dlq", "--transport", "jetstream", "--url", "nats://127.0.0.1:1", "--prefix", prefix, "list", sub)
			if err == nil || !strings.Contains(err.Error(), "jetstream: connect to nats://127.0.0.1:1") {
				t.Errorf("wrong URL = %v, want a connection error naming it", err)
			}
		},
	})
}

// deleteJetStreamStreams deletes the streams of prefix on the server at url.
func deleteJetStreamStreams(t *testing.T, url, prefix string) {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range []string{"_EVENTS", "_DLQ", "_REDELIVERY"} {
		if err := js.DeleteStream(ctx, prefix+s); err != nil && !errors.Is(err, natsjs.ErrStreamNotFound) {
			t.Errorf("cleanup: deleting stream %s: %v", prefix+s, err)
		}
	}
}
