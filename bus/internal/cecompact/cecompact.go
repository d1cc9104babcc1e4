// Package cecompact writes and reads the entries of the compact form of a
// message's envelope, which the transports carry in a single header:
// comma-separated entries, each the name of a CloudEvents attribute alone
// ("specversion") or with a value ("source=/customers"), as in
//
//	source=/customers,time=2026-11-27T14:55:00.123456789Z,datacontenttype=application/json
//
// What a bare name means, and which attributes have entries, is each
// transport's own (see rabbitmq's rampart-ce and jetstream's Rampart-Ce
// headers). Values are escaped as %XX (two hex digits, upper case): "%", ",",
// the space, the control bytes (below 0x20) and DEL (0x7f), so that a value
// never holds the list's separator, and that a header that strips whitespace
// or refuses line breaks (a NATS header) carries any text unchanged. Every other
// byte, UTF-8 included, is written as it is. A reader unescapes any %XX
// (consumers of earlier versions, which escaped "%" and "," only, read the
// values escaped by this package unchanged).
package cecompact

import (
	"net/url"
	"strings"
)

// AppendName appends the entry name to the list b, after a comma unless b is
// empty. A list with no room yet gets room for a typical envelope (96 bytes).
func AppendName(b *strings.Builder, name string) {
	switch {
	case b.Cap() == 0:
		b.Grow(96)
	case b.Len() > 0:
		b.WriteByte(',')
	}
	b.WriteString(name)
}

// AppendEntry appends the entry name=v to the list b, v escaped.
func AppendEntry(b *strings.Builder, name, v string) {
	AppendName(b, name)
	b.WriteByte('=')
	AppendEscaped(b, v)
}

// escaped[c] says whether AppendEscaped writes c as %XX.
var escaped = func() (e [256]bool) {
	for c := range e {
		e[c] = c <= ' ' || c == ',' || c == '%' || c == 0x7f
	}
	return e
}()

// AppendEscaped appends v to b with "%", ",", " ", the control bytes and DEL
// escaped as %XX ("%25", "%2C", "%20", "%0A", …).
func AppendEscaped(b *strings.Builder, v string) {
	i := 0
	for i < len(v) && !escaped[v[i]] {
		i++
	}
	if i == len(v) {
		b.WriteString(v)
		return
	}
	const hex = "0123456789ABCDEF"
	b.WriteString(v[:i])
	for ; i < len(v); i++ {
		if c := v[i]; escaped[c] {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		} else {
			b.WriteByte(c)
		}
	}
}

// Unescape undoes AppendEscaped: it replaces every %XX (two hex digits, either
// case) of v by the byte it stands for, and leaves every other byte as it is,
// as url.PathUnescape does. It reports false, and returns v, if a "%" is not
// followed by two hex digits: such a value was not written by AppendEscaped.
func Unescape(v string) (string, bool) {
	if strings.IndexByte(v, '%') < 0 {
		return v, true
	}
	u, err := url.PathUnescape(v)
	if err != nil {
		return v, false
	}
	return u, true
}
