package httpx

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfterSeconds is the largest delay-seconds that fits a time.Duration.
const maxRetryAfterSeconds = math.MaxInt64 / int64(time.Second)

// ParseRetryAfter parses the value of a Retry-After header (RFC 9110, section
// 10.2.3) received at now: either delay-seconds ("120") or an HTTP-date ("Wed, 21 Oct
// 2015 07:28:00 GMT", or the obsolete RFC 850 and asctime forms). It returns the wait
// and true, or false if v is neither. A date in the past is a wait of zero; a number
// of seconds too large for a time.Duration is cut to the largest one.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if digitsOnly(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > maxRetryAfterSeconds { // too many digits
			return time.Duration(maxRetryAfterSeconds) * time.Second, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// digitsOnly reports whether s is made of ASCII digits only.
func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
