package stats

import "testing"

func TestMedian(t *testing.T) {
	v := []float64{3, 1, 2}
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{5}, 5},
		{v, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if v[0] != 3 || v[1] != 1 || v[2] != 2 {
		t.Errorf("Median changed its argument: %v", v)
	}
}
