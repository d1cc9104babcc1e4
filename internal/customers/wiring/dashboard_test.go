package wiring_test

import (
	"bytes"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-go/rampart/config"
	"github.com/rampart-go/rampart/internal/customers/wiring"
)

// traffic creates a customer and two orders, one of which cannot be reserved
// and is dead-lettered by reserve-inventory, and waits for the dead letter.
func traffic(t *testing.T, s *service, n int) {
	t.Helper()
	for i := range n {
		c := s.call("POST", "/customers", map[string]any{"name": "Dee", "email": "dee" + string(rune('a'+i%26)) + time.Now().Format("150405.000000") + "@example.com"}, true).
			want(t, "POST /customers", http.StatusCreated)
		s.call("POST", "/orders", map[string]any{"customer_id": c.str("id"), "currency": "EUR", "items": []any{
			map[string]any{"product_id": "sku-1", "quantity": 1, "price_minor": 100}}}, true).want(t, "POST /orders", http.StatusCreated)
		if i == 0 {
			s.call("POST", "/orders", map[string]any{"customer_id": c.str("id"), "currency": "EUR", "items": []any{
				map[string]any{"product_id": "sold-out", "quantity": 1, "price_minor": 100}}}, true).want(t, "POST /orders", http.StatusCreated)
		}
	}
	eventually(t, wait, "an order's event is dead-lettered", func() bool {
		for _, sub := range dashState(t, s).list("subscriptions") {
			if sub.(map[string]any)["name"] == "reserve-inventory" {
				return sub.(map[string]any)["dlq"].(map[string]any)["messages"].(float64) > 0
			}
		}
		return false
	})
}

func dashState(t *testing.T, s *service) response {
	t.Helper()
	return s.call("GET", "/dashboard/api/state", nil, false).want(t, "GET /dashboard/api/state", http.StatusOK)
}

// TestDashboard: on embedded defaults (JetStream, which lists and replays its
// dead letters) the page is served and its state counts the calls, the
// breakers, the settlements, the dead letters and the parked outbox rows.
func TestDashboard(t *testing.T) {
	s := start(t, wiring.Settings{Simulators: testSimulators()})
	traffic(t, s, 2)

	t.Run("page", func(t *testing.T) {
		for _, path := range []string{"/dashboard", "/dashboard/"} {
			r := s.call("GET", path, nil, false).want(t, "GET "+path, http.StatusOK)
			if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("GET %s: Content-Type %q; want text/html", path, ct)
			}
			for _, want := range []string{`id="dependencies"`, `id="bus"`, `id="deadletters"`, `id="outbox"`, `id="token"`, "/dashboard/app.js"} {
				if !strings.Contains(r.raw, want) {
					t.Errorf("GET %s lacks %s", path, want)
				}
			}
		}
		for path, ct := range map[string]string{"/dashboard/app.js": "text/javascript; charset=utf-8", "/dashboard/style.css": "text/css; charset=utf-8"} {
			r := s.call("GET", path, nil, false).want(t, "GET "+path, http.StatusOK)
			if got := r.header.Get("Content-Type"); got != ct || len(r.raw) < 500 {
				t.Errorf("GET %s: Content-Type %q, %d bytes; want %q and the file", path, got, len(r.raw), ct)
			}
		}
	})

	t.Run("state", func(t *testing.T) {
		eventually(t, wait, "the history has a point", func() bool { return len(dashState(t, s).list("history")) > 0 })
		r := dashState(t, s)
		deps := map[string]map[string]any{}
		for _, d := range r.list("dependencies") {
			deps[d.(map[string]any)["name"].(string)] = d.(map[string]any)
		}
		for _, name := range []string{"payments", "inventory", "email"} {
			d := deps[name]
			if d == nil {
				t.Fatalf("state lacks dependency %s: %s", name, r.raw)
			}
			totals := d["totals"].(map[string]any)
			if d["state"] != "closed" || totals["attempts"].(float64) == 0 || totals["successes"].(float64) == 0 || len(d["breakers"].([]any)) == 0 {
				t.Errorf("dependency %s = %v; want a closed breaker and successful attempts", name, d)
			}
			if lat := totals["latency_ms"].(map[string]any); lat["p99"].(float64) <= 0 || lat["p50"].(float64) > lat["p99"].(float64) {
				t.Errorf("dependency %s latency = %v; want 0 < p50 <= p99", name, lat)
			}
		}
		subs := map[string]map[string]any{}
		for _, sub := range r.list("subscriptions") {
			subs[sub.(map[string]any)["name"].(string)] = sub.(map[string]any)
		}
		ri := subs["reserve-inventory"]
		if ri == nil || ri["event_type"] != "customers.order-created.v1" || ri["published"].(float64) < 3 {
			t.Fatalf("reserve-inventory = %v; want order-created, 3 published", ri)
		}
		if dlq := ri["dlq"].(map[string]any); dlq["by_reason"].(map[string]any)["permanent-error"].(float64) != 1 {
			t.Errorf("reserve-inventory dlq = %v; want one permanent-error", dlq)
		}
		if totals := subs["welcome-email"]["totals"].(map[string]any); totals["acked"].(float64) != 2 {
			t.Errorf("welcome-email totals = %v; want 2 acked", totals)
		}
		if dl := r.body["dead_letters"].(map[string]any); dl["readable"] != true || dl["replayable"] != true {
			t.Errorf("dead_letters = %v; want readable and replayable on JetStream", dl)
		}
		if _, ok := r.body["outbox"].(map[string]any)["unsent"]; !ok {
			t.Errorf("state lacks the outbox backlog: %s", r.raw)
		}
		if n, ok := r.body["outbox"].(map[string]any)["parked"].(float64); !ok || n != 0 {
			t.Errorf("state outbox = %v; want 0 parked (every event type has a subscription)", r.body["outbox"])
		}
		if p, _ := r.body["parked"].(map[string]any); p == nil || p["replayable"] != true {
			t.Errorf("state parked = %v; want replayable", r.body["parked"])
		}
	})

	t.Run("replay", func(t *testing.T) {
		const path = "/dashboard/api/deadletters/reserve-inventory/replay"
		s.call("POST", path, nil, false).want(t, "replay without a token", http.StatusUnauthorized)
		r := s.call("POST", path, nil, true).want(t, "replay on JetStream", http.StatusOK)
		if n, _ := r.body["replayed"].(float64); n != 1 {
			t.Errorf("replay on JetStream = %s; want 1 replayed", r.raw)
		}
		s.call("POST", "/dashboard/api/deadletters/nope/replay", nil, true).want(t, "replay of an unknown subscription", http.StatusNotFound)
	})
}

// TestDashboardReplay: on the memory transport the replay button sends the dead
// letters back to their subscription.
func TestDashboardReplay(t *testing.T) {
	cfg, err := config.LoadOptions{IgnoreEnv: true}.Parse("test", []byte("bus:\n  transport: memory\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, wiring.Settings{Simulators: testSimulators(), Config: cfg})
	traffic(t, s, 1)
	if dl := dashState(t, s).body["dead_letters"].(map[string]any); dl["replayable"] != true {
		t.Fatalf("dead_letters = %v; want replayable on the memory transport", dl)
	}
	const path = "/dashboard/api/deadletters/reserve-inventory/replay"
	s.call("POST", path, nil, false).want(t, "replay without a token", http.StatusUnauthorized)
	r := s.call("POST", path, nil, true).want(t, "replay", http.StatusOK)
	if r.body["replayed"].(float64) != 1 {
		t.Fatalf("replay = %s; want 1 replayed", r.raw)
	}
	// Still out of stock: the replayed event is dead-lettered again.
	eventually(t, wait, "the replayed event is handled and dead-lettered again", func() bool {
		for _, sub := range dashState(t, s).list("subscriptions") {
			if m := sub.(map[string]any); m["name"] == "reserve-inventory" {
				return m["totals"].(map[string]any)["dead_lettered"].(float64) == 2
			}
		}
		return false
	})
}

// TestDashboardInChromium loads the page in headless Chromium after some
// traffic and checks what it drew: the DOM after the script ran, and a
// screenshot that is not blank. It runs only with RAMPART_BROWSER=1 and
// /usr/bin/chromium; RAMPART_SCREENSHOT names where to keep the screenshot.
func TestDashboardInChromium(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if os.Getenv("RAMPART_BROWSER") != "1" {
		t.Skip("set RAMPART_BROWSER=1 to run the browser test")
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("no %s: %v", chromium, err)
	}
	s := start(t, wiring.Settings{Simulators: testSimulators()})
	traffic(t, s, 3)
	// Two more samples of the history with traffic in them.
	for range 3 {
		traffic(t, s, 2)
		time.Sleep(2 * time.Second)
	}
	shot := os.Getenv("RAMPART_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "dashboard.png")
	}
	run := func(args ...string) []byte {
		t.Helper()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
			"--user-data-dir=" + t.TempDir(), "--window-size=1400,1000", "--virtual-time-budget=8000"}
		ctx := t.Context()
		cmd := exec.CommandContext(ctx, chromium, append(append(base, args...), s.URL()+"/dashboard")...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
		return out
	}

	dom := string(run("--dump-dom"))
	for _, want := range []string{`data-dependency="payments"`, `data-dependency="inventory"`, `data-dependency="email"`,
		`class="badge closed">closed`, `data-subscription="reserve-inventory"`, "permanent-error: ", "replay sends them back to their subscription", "<svg",
		`id="parkedkpi"`, `data-replay-parked="1"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("the DOM after the script ran lacks %q", want)
		}
	}
	if strings.Contains(dom, "cannot reach the service") {
		t.Errorf("the page could not fetch its state")
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}

	run("--screenshot=" + shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	b := img.Bounds()
	if b.Dx() < 1000 || b.Dy() < 800 {
		t.Errorf("screenshot is %dx%d; want the window, 1400x1000", b.Dx(), b.Dy())
	}
	// Not blank: the luminance varies, and many pixels are neither background
	// nor white.
	var n, sum, sq float64
	colours := map[uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			l := (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 65535
			n, sum, sq = n+1, sum+l, sq+l*l
			colours[(r>>12)<<8|(g>>12)<<4|bl>>12] = true
		}
	}
	mean := sum / n
	if variance := sq/n - mean*mean; variance < 0.005 || len(colours) < 20 {
		t.Errorf("screenshot %s looks blank: luminance variance %.4f, %d colours", shot, variance, len(colours))
	}
	t.Logf("screenshot: %s", shot)
}
