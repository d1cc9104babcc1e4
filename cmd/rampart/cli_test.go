package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// execute runs the rampart command with args and returns its error and output.
func execute(ctx context.Context, args ...string) (string, error) {
	var out bytes.Buffer
	root := newRootCmd(&out, &out)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

func TestFlagErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sim.json")
	if err := os.WriteFile(cfg, []byte(`{"routes":[{"path":"/","mix":"200:x"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"demo", "--duration", "0s"}, "--duration: 0s is not between 1s and 1h"},
		{[]string{"demo", "--duration", "soon"}, `invalid argument "soon" for "--duration"`},
		{[]string{"demo", "--rate", "0"}, "--rate: 0 is not between 0.1 and 1000"},
		{[]string{"demo", "--max-in-flight", "0"}, "--max-in-flight: 0 is not between 1 and 10000"},
		{[]string{"demo", "--mix", "200:80,500:x"}, `--mix: mix "200:80,500:x": entry "500:x": weight "x" is not a whole number`},
		{[]string{"demo", "--latency", "p50=20ms,p90=5ms"}, "--latency: latency \"p50=20ms,p90=5ms\": p90 (5ms) is below p50 (20ms)"},
		{[]string{"demo", "--reset-rate", "2"}, "--reset-rate: 2 is not a share from 0 to 1"},
		{[]string{"demo", "--reset-rate", "0.6", "--hang-rate", "0.6"}, "--hang-rate: --reset-rate 0.6 and --hang-rate 0.6 add up to more than 1"},
		{[]string{"demo", "--retry-after", "-1s"}, "--retry-after: -1s is negative"},
		{[]string{"demo", "--outage-after", "30s"}, "--outage-after: 30s is not within --duration 20s"},
		{[]string{"demo", "--outage-mode", "down"}, `--outage-mode: "down" is not "503" or "reset"`},
		{[]string{"demo", "extra"}, `unexpected argument "extra": rampart demo takes flags only`},
		{[]string{"sim", "--interval", "10ms"}, "--interval: 10ms is below 100ms"},
		{[]string{"sim", "--config", cfg, "--mix", "200"}, "--config: cannot be given with --mix"},
		{[]string{"sim", "--config", cfg}, "--config: " + cfg + `: routes[0].mix: mix "200:x"`},
		{[]string{"sim", "--config", filepath.Join(dir, "missing.json")}, "--config: open "},
		{[]string{"sim", "--listen", "256.0.0.1:1"}, "--listen 256.0.0.1:1: listen tcp"},
	}
	for _, tt := range tests {
		_, err := execute(t.Context(), tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("rampart %s: error = %v; want one containing %q", strings.Join(tt.args, " "), err, tt.want)
		}
		if err != nil && !strings.Contains(err.Error(), "--help") && !strings.Contains(tt.want, "--listen") {
			t.Errorf("rampart %s: error %q does not point to --help", strings.Join(tt.args, " "), err)
		}
	}
}

func TestHelpExplainsEveryFlag(t *testing.T) {
	for _, name := range []string{"demo", "sim"} {
		out, err := execute(t.Context(), name, "--help")
		if err != nil {
			t.Fatalf("rampart %s --help: %v", name, err)
		}
		cmd, _, _ := newRootCmd(io.Discard, io.Discard).Find([]string{name})
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" {
				return
			}
			if f.Usage == "" || !strings.Contains(out, "--"+f.Name) {
				t.Errorf("rampart %s --help does not explain --%s:\n%s", name, f.Name, out)
			}
		})
	}
}

// TestSimCommand serves through the real command, calls it, and stops it as
// Ctrl-C would.
func TestSimCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &syncBuffer{}
	root := newRootCmd(io.Discard, out)
	root.SetArgs([]string{"sim", "--listen", "127.0.0.1:0", "--interval", "100ms", "--mix", "503", "--retry-after", "2s", "--latency", "0", "--seed", "9"})
	errc := make(chan error, 1)
	go func() { errc <- root.ExecuteContext(ctx) }()

	var url string
	urlRE := regexp.MustCompile(`serving a fake upstream on (http://\S+)`)
	deadline := time.Now().Add(5 * time.Second)
	for url == "" && time.Now().Before(deadline) {
		if m := urlRE.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	if url == "" {
		cancel()
		t.Fatalf("no URL announced; output:\n%s", out.String())
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for range 3 {
		resp, err := c.Get(url + "/anything")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" {
			t.Errorf("GET = %d, Retry-After %q; want 503, 2", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	for !strings.Contains(out.String(), "served 3 (503: 3)") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("rampart sim = %v", err)
	}
	text := out.String()
	for _, want := range []string{"answers 100% of requests with an error (100% 503)", "served 3 (503: 3)", "rampart sim: stopped after ", "/_sim/outage?for=5s"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\x1b") {
		t.Error("output to a buffer contains ANSI escapes")
	}
}

func TestSimCommandConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sim.json")
	if err := os.WriteFile(path, []byte(`{"routes":[{"path":"/a","mix":"500"},{"path":"/b/","mix":"200"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{}
	root := newRootCmd(io.Discard, out)
	root.SetArgs([]string{"sim", "--listen", "127.0.0.1:0", "--config", path})
	errc := make(chan error, 1)
	go func() { errc <- root.ExecuteContext(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "stop with Ctrl-C") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/a: mix 500:1", "/b/: mix 200:1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
