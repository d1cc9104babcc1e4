package resilience

import (
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	var r Registry
	if _, ok := r.Get("none"); ok {
		t.Fatal("Get on an empty registry found something")
	}
	b := Must(NewBreaker(BreakerOptions{Name: "payments-breaker"}))
	payments := Must(NewPipeline(PipelineOptions{Name: "payments"}, b))
	inventory := Must(NewPipeline(PipelineOptions{Name: "inventory"}, b, Must(NewTimeout(TimeoutOptions{}))))
	for _, p := range []*Pipeline{payments, inventory} {
		if err := r.Register(p); err != nil {
			t.Fatalf("Register(%s) = %v", p.Name(), err)
		}
	}
	if err := r.Register(Must(NewPipeline(PipelineOptions{Name: "payments"}))); err == nil || !strings.Contains(err.Error(), `"payments" is already registered`) {
		t.Fatalf("Register(duplicate) = %v, want an error naming the pipeline", err)
	}
	if got, ok := r.Get("payments"); !ok || got != payments {
		t.Fatalf("Get(payments) = %v, %v; want the pipeline", got, ok)
	}
	all := r.All()
	if len(all) != 2 || all[0].Name() != "inventory" || all[1].Name() != "payments" {
		t.Fatalf("All() names = %v, want [inventory payments]", names(all))
	}
	if bs := r.Breakers(); len(bs) != 1 || bs[0] != b {
		t.Fatalf("Breakers() = %v, want the one shared breaker", bs)
	}
	replacement := Must(NewPipeline(PipelineOptions{Name: "payments"}))
	if old := r.Replace(replacement); old != payments {
		t.Fatalf("Replace returned %v, want the old pipeline", old)
	}
	if got, _ := r.Get("payments"); got != replacement {
		t.Fatal("Get after Replace did not return the replacement")
	}
	var empty Registry
	if old := empty.Replace(payments); old != nil {
		t.Fatalf("Replace on empty registry returned %v, want nil", old)
	}
}

func names(ps []*Pipeline) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name())
	}
	return out
}
