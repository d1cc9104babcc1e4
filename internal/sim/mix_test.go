package sim

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestParseMix(t *testing.T) {
	tests := []struct {
		in   string
		want Mix
	}{
		{"", nil},
		{"200:80,500:10,503:5,429:5", Mix{{200, 80}, {500, 10}, {503, 5}, {429, 5}}},
		{" 200 : 3 , 500:1 ", Mix{{200, 3}, {500, 1}}},
		{"503", Mix{{503, 1}}},
		{"200:0,500:1", Mix{{200, 0}, {500, 1}}},
	}
	for _, tt := range tests {
		got, err := ParseMix(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseMix(%q) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestParseMixErrors(t *testing.T) {
	tests := []struct {
		in, want string // want: a part of the error message
	}{
		{"200:80,", "empty entry"},
		{"ok:80", `status "ok" is not a number`},
		{"200:lots", `entry "200:lots": weight "lots" is not a whole number`},
		{"200:1.5", `weight "1.5" is not a whole number`},
		{"99:1", "status 99 is not between 200 and 599"},
		{"600:1", "status 600 is not between 200 and 599"},
		{"200:-1", "status 200: weight -1 is negative"},
		{"200:1,200:2", "status 200 appears twice"},
		{"200:0,500:0", "weights add up to zero"},
		{"200:2000000", "is above 1000000"},
	}
	for _, tt := range tests {
		_, err := ParseMix(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "sim: mix ") {
			t.Errorf("ParseMix(%q) error = %v; want one containing %q", tt.in, err, tt.want)
		}
	}
}

func TestMixString(t *testing.T) {
	m := Mix{{200, 80}, {500, 20}}
	if got, want := m.String(), "200:80,500:20"; got != want {
		t.Errorf("Mix.String() = %q, want %q", got, want)
	}
	if got := m.Share(500); got != 0.2 {
		t.Errorf("Share(500) = %v, want 0.2", got)
	}
	if got := Mix(nil).Share(200); got != 1 {
		t.Errorf("empty mix: Share(200) = %v, want 1", got)
	}
}

func TestMixPickConverges(t *testing.T) {
	m, err := ParseMix("200:80,500:10,503:5,429:5")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	const n = 100_000
	counts := map[int]int{}
	for range n {
		counts[m.pick(r)]++
	}
	for _, e := range m {
		got, want := float64(counts[e.Status])/n, m.Share(e.Status)
		if got < want-0.01 || got > want+0.01 {
			t.Errorf("share of %d = %.3f, want %.3f ± 0.01", e.Status, got, want)
		}
	}
}

func FuzzParseMix(f *testing.F) {
	for _, s := range []string{"", "200:80,500:10,503:5,429:5", "503", " 200 : 3 , 500:1 ", "200:0,500:0", "200:-1", "99:1", "200:1,200:2", "+200:+1", ",", "200:1,"} {
		f.Add(s)
	}
	r := rand.New(rand.NewPCG(1, 1))
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMix(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "sim: mix ") {
				t.Errorf("ParseMix(%q) error %q lacks the prefix", s, err)
			}
			return
		}
		if err := m.validate(); err != nil {
			t.Fatalf("ParseMix(%q) = %v, which is invalid: %v", s, m, err)
		}
		again, err := ParseMix(m.String())
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("ParseMix(%q) = %v; ParseMix(%q) = %v, %v", s, m, m.String(), again, err)
		}
		got := m.pick(r)
		if len(m) > 0 && m.Share(got) == 0 {
			t.Fatalf("mix %v picked %d, which has no weight", m, got)
		}
	})
}
