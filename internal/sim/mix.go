package sim

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// maxWeight bounds one weight so that the sum of a mix cannot overflow.
const maxWeight = 1_000_000

// Mix is a weighted choice of HTTP statuses: with {200, 80} and {500, 20}, four
// answers in five are 200 and one is 500. The zero value (an empty mix) always
// answers 200.
type Mix []Weighted

// Weighted is one status of a [Mix] with its weight.
type Weighted struct {
	Status int // an HTTP status, 200 to 599
	Weight int // relative weight, 0 to 1,000,000
}

// ParseMix parses a mix written as comma-separated status:weight pairs, such as
// "200:80,500:10,503:5,429:5". Weights are whole numbers that need not add up to 100;
// a status written without a weight has weight 1, so "503" alone always answers 503.
// The empty string is the empty mix. The error names the entry that is wrong.
func ParseMix(s string) (Mix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var m Mix
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, mixError(s, "empty entry (two commas in a row, or a trailing comma?)")
		}
		code, weight, hasWeight := strings.Cut(entry, ":")
		status, err := strconv.Atoi(strings.TrimSpace(code))
		if err != nil {
			return nil, mixError(s, fmt.Sprintf("entry %q: status %q is not a number", entry, code))
		}
		w := 1
		if hasWeight {
			w, err = strconv.Atoi(strings.TrimSpace(weight))
			if err != nil {
				return nil, mixError(s, fmt.Sprintf("entry %q: weight %q is not a whole number", entry, weight))
			}
		}
		m = append(m, Weighted{Status: status, Weight: w})
	}
	if err := m.validate(); err != nil {
		return nil, mixError(s, err.Error())
	}
	return m, nil
}

func mixError(s, msg string) error { return fmt.Errorf("sim: mix %q: %s", s, msg) }

// validate checks statuses, weights and duplicates; the message names the entry.
func (m Mix) validate() error {
	seen := make(map[int]bool, len(m))
	total := 0
	for _, e := range m {
		switch {
		case e.Status < 200 || e.Status > 599:
			return fmt.Errorf("status %d is not between 200 and 599", e.Status)
		case e.Weight < 0:
			return fmt.Errorf("status %d: weight %d is negative", e.Status, e.Weight)
		case e.Weight > maxWeight:
			return fmt.Errorf("status %d: weight %d is above %d", e.Status, e.Weight, maxWeight)
		case seen[e.Status]:
			return fmt.Errorf("status %d appears twice", e.Status)
		}
		seen[e.Status] = true
		total += e.Weight
	}
	if len(m) > 0 && total == 0 {
		return fmt.Errorf("weights add up to zero")
	}
	return nil
}

// String returns the mix in the form [ParseMix] reads; it is "" for the empty mix.
func (m Mix) String() string {
	var b strings.Builder
	for i, e := range m {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(e.Status))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Weight))
	}
	return b.String()
}

// MarshalText returns the mix as [Mix.String] writes it, so that it is a string in JSON.
func (m Mix) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses text with [ParseMix].
func (m *Mix) UnmarshalText(text []byte) error {
	v, err := ParseMix(string(text))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Share returns the share, in [0, 1], of answers that have the status.
func (m Mix) Share(status int) float64 {
	if len(m) == 0 {
		if status == 200 {
			return 1
		}
		return 0
	}
	total, w := 0, 0
	for _, e := range m {
		total += e.Weight
		if e.Status == status {
			w = e.Weight
		}
	}
	return float64(w) / float64(total)
}

// pick draws a status. m must be valid.
func (m Mix) pick(r *rand.Rand) int {
	total := 0
	for _, e := range m {
		total += e.Weight
	}
	if total == 0 {
		return 200
	}
	n := r.IntN(total)
	for _, e := range m {
		if n < e.Weight {
			return e.Status
		}
		n -= e.Weight
	}
	return m[len(m)-1].Status // unreachable
}
