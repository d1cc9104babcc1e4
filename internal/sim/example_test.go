package sim_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/rampart-go/rampart/internal/sim"
)

func Example() {
	mix, _ := sim.ParseMix("503")
	s, err := sim.New(sim.Config{Routes: []sim.Route{{Path: "/", Mix: mix, RetryAfter: 2 * time.Second}}})
	if err != nil {
		panic(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		panic(err)
	}
	defer s.Close()

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(s.URL() + "/orders/42")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, "Retry-After:", resp.Header.Get("Retry-After"))
	fmt.Println("served:", s.Stats().ByStatus)
	// Output:
	// 503 Retry-After: 2
	// served: map[503:1]
}

func ExampleParseLatency() {
	l, err := sim.ParseLatency("p50=20ms,p90=100ms,p99=800ms")
	if err != nil {
		panic(err)
	}
	fmt.Println(l.Quantile(50), l.Quantile(70), l.Quantile(99))
	_, err = sim.ParseLatency("p50=20ms,p90=10ms")
	fmt.Println(err)
	// Output:
	// 20ms 60ms 800ms
	// sim: latency "p50=20ms,p90=10ms": p90 (10ms) is below p50 (20ms): delays may not decrease
}

func ExampleParseMix() {
	m, err := sim.ParseMix("200:80,500:10,503:5,429:5")
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Share(500))
	_, err = sim.ParseMix("200:80,500:ten")
	fmt.Println(err)
	// Output:
	// 0.1
	// sim: mix "200:80,500:ten": entry "500:ten": weight "ten" is not a whole number
}
