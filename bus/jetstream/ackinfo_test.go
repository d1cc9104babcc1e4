package jetstream

import (
	"testing"

	"github.com/nats-io/nats.go"
)

// ackInfoSubjects are reply subjects of both forms, and others.
var ackInfoSubjects = []string{
	"$JS.ACK.rampart_EVENTS.welcome.1.42.40.1700000000000000000.7",
	"$JS.ACK._.ACCHASH.rampart_EVENTS.welcome.3.42.40.1700000000000000000.7.random",
	"$JS.ACK.hub.ACCHASH.rampart_EVENTS.welcome.18446744073709551615.9.40.1700000000000000000.0",
	"$JS.ACK.hub.ACCHASH.rampart_EVENTS.welcome.2.9.40.1700000000000000000.0.r.more",
	"$JS.ACK.rampart_EVENTS.welcome.x.42.40.1.7",
	"$JS.ACK.rampart_EVENTS.welcome.1.42",
	"$JS.ACK.a.b.c.d.e.f.g.h",
	"$JS.ACK.rampart_EVENTS.welcome.1.-42.40.1.7",
	"$JS.ACK.rampart_EVENTS.welcome..42.40.1.7",
	"_INBOX.abc",
	"",
}

// checkAckInfo compares ackInfo with nats.go's Metadata for reply: ackInfo
// must agree where it answers.
func checkAckInfo(t *testing.T, reply string) {
	seq, delivered, ok := ackInfo(reply)
	if !ok {
		return // prepare falls back to Metadata
	}
	md, err := (&nats.Msg{Reply: reply, Sub: &nats.Subscription{}}).Metadata()
	if err != nil {
		t.Fatalf("ackInfo(%q) = %d, %d, true; Metadata fails: %v", reply, seq, delivered, err)
	}
	if seq != md.Sequence.Stream || delivered != md.NumDelivered {
		t.Fatalf("ackInfo(%q) = sequence %d, delivered %d; want %d, %d as Metadata", reply, seq, delivered, md.Sequence.Stream, md.NumDelivered)
	}
}

func TestAckInfo(t *testing.T) {
	for _, tc := range []struct {
		reply          string
		seq, delivered uint64
		ok             bool
	}{
		{ackInfoSubjects[0], 42, 1, true},
		{ackInfoSubjects[1], 42, 3, true},
		{ackInfoSubjects[2], 9, 18446744073709551615, true},
		{ackInfoSubjects[3], 9, 2, true},
		{ackInfoSubjects[4], 0, 0, false},
		{ackInfoSubjects[5], 0, 0, false},
		{"_INBOX.abc", 0, 0, false},
	} {
		seq, delivered, ok := ackInfo(tc.reply)
		if seq != tc.seq || delivered != tc.delivered || ok != tc.ok {
			t.Errorf("ackInfo(%q) = %d, %d, %v; want %d, %d, %v", tc.reply, seq, delivered, ok, tc.seq, tc.delivered, tc.ok)
		}
	}
	for _, s := range ackInfoSubjects {
		checkAckInfo(t, s)
	}
}

func FuzzAckInfo(f *testing.F) {
	for _, s := range ackInfoSubjects {
		f.Add(s)
	}
	f.Fuzz(checkAckInfo)
}
