package main

import (
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/mattn/go-isatty"
)

// isTerminal reports whether w is a terminal that understands ANSI escapes.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// colorWanted reports whether colours are welcome on a terminal: not when NO_COLOR is
// set (https://no-color.org).
func colorWanted() bool { return os.Getenv("NO_COLOR") == "" }

// ANSI escapes.
const (
	ansiReset     = "\x1b[0m"
	ansiBold      = "\x1b[1m"
	ansiDim       = "\x1b[2m"
	ansiRed       = "\x1b[31m"
	ansiGreen     = "\x1b[32m"
	ansiYellow    = "\x1b[33m"
	ansiCyan      = "\x1b[36m"
	ansiClearLine = "\r\x1b[2K"
	ansiHideCur   = "\x1b[?25l"
	ansiShowCur   = "\x1b[?25h"
)

// ansiUp moves the cursor up n lines.
func ansiUp(n int) string { return "\x1b[" + strconv.Itoa(n) + "A" }

// painter colours text when enabled.
type painter bool

func (p painter) paint(code, s string) string {
	if !p || s == "" {
		return s
	}
	return code + s + ansiReset
}

// group writes n with thousands separators: 12,345.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// percent returns part/whole as a whole percentage, "0%" when whole is zero; shares
// above zero but below 1% are "<1%".
func percent(part, whole int64) string {
	if whole <= 0 || part <= 0 {
		return "0%"
	}
	p := float64(part) * 100 / float64(whole)
	switch {
	case p < 1:
		return "<1%"
	case p >= 99 && part < whole:
		return strconv.FormatFloat(math.Floor(p*10)/10, 'f', 1, 64) + "%" // 99.7%, never a false 100%
	}
	return strconv.Itoa(int(p+0.5)) + "%"
}
