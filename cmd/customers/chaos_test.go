package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestChaosFlags: the chaos subcommand's usage and bad flags.
func TestChaosFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"chaos", "-h"}, 0, "Usage: customers chaos"},
		{[]string{"chaos", "-rate", "fast"}, 2, "invalid value"},
		{[]string{"chaos", "extra"}, 2, "unexpected arguments"},
		{[]string{"chaos", "-duration", "1s", "-transport", "kafka"}, 1, `transport "kafka"`},
	} {
		var out bytes.Buffer
		if code := run(t.Context(), tc.args, func(string) string { return "" }, &out); code != tc.code || !strings.Contains(out.String(), tc.want) {
			t.Errorf("run(%q) = %d, output %q; want %d and %q", tc.args, code, out.String(), tc.code, tc.want)
		}
	}
}
