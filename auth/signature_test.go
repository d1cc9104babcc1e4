package auth

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

const validMAC = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="

func TestParseSignature(t *testing.T) {
	valid := "keyId=svc-1,algorithm=hmac-sha256,ts=1700000000,nonce=abc_-9,signature=" + validMAC
	got, err := ParseSignature(valid)
	if err != nil {
		t.Fatalf("ParseSignature(%q) error = %v", valid, err)
	}
	if got.KeyID != "svc-1" || got.Algorithm != AlgorithmHMACSHA256 || got.Timestamp.Unix() != 1700000000 ||
		got.Nonce != "abc_-9" || len(got.MAC) != 32 {
		t.Errorf("ParseSignature(%q) = %+v", valid, got)
	}
	if s := got.String(); s != valid {
		t.Errorf("String() = %q, want %q", s, valid)
	}

	ok := []string{
		valid,
		" signature=" + validMAC + " , nonce=n,\tts=1 ,algorithm=hmac-sha256,keyId=k=v ", // any order, OWS, '=' in keyId
	}
	for _, v := range ok {
		if _, err := ParseSignature(v); err != nil {
			t.Errorf("ParseSignature(%q) error = %v, want nil", v, err)
		}
	}

	bad := map[string]string{
		"empty":             "",
		"no value":          "keyId",
		"missing signature": "keyId=k,algorithm=hmac-sha256,ts=1,nonce=n",
		"missing keyId":     "algorithm=hmac-sha256,ts=1,nonce=n,signature=" + validMAC,
		"repeated":          valid + ",ts=2",
		"unknown parameter": valid + ",extra=1",
		"wrong algorithm":   strings.Replace(valid, "hmac-sha256", "hmac-sha1", 1),
		"negative ts":       strings.Replace(valid, "ts=1700000000", "ts=-1", 1),
		"plus ts":           strings.Replace(valid, "ts=1700000000", "ts=+1", 1),
		"huge ts":           strings.Replace(valid, "ts=1700000000", "ts=99999999999999999999", 1),
		"empty keyId":       strings.Replace(valid, "keyId=svc-1", "keyId=", 1),
		"quote in keyId":    strings.Replace(valid, "keyId=svc-1", `keyId="svc"`, 1),
		"bad nonce":         strings.Replace(valid, "nonce=abc_-9", "nonce=a+b", 1),
		"short signature":   strings.Replace(valid, validMAC, "AAAA", 1),
		"not base64":        strings.Replace(valid, validMAC, "!!!!"+validMAC[4:], 1),
		"unpadded":          strings.Replace(valid, validMAC, strings.TrimRight(validMAC, "="), 1),
		"too long":          valid + strings.Repeat(" ", maxSignatureHeader),
		"case of names":     strings.Replace(valid, "keyId", "keyid", 1),
	}
	for name, v := range bad {
		_, err := ParseSignature(v)
		if !errors.Is(err, ErrMalformedSignature) {
			t.Errorf("%s: ParseSignature(%q) error = %v, want ErrMalformedSignature", name, v, err)
		}
	}
}

func FuzzParseSignature(f *testing.F) {
	f.Add("keyId=svc-1,algorithm=hmac-sha256,ts=1700000000,nonce=abc,signature=" + validMAC)
	f.Add("keyId=a=b , algorithm=hmac-sha256,ts=0,nonce=-,signature=" + validMAC)
	f.Add("keyId=k,keyId=k")
	f.Add(",,,=,")
	f.Fuzz(func(t *testing.T, v string) {
		sig, err := ParseSignature(v)
		if err != nil {
			if !errors.Is(err, ErrMalformedSignature) {
				t.Fatalf("ParseSignature(%q) error = %v, does not match ErrMalformedSignature", v, err)
			}
			return
		}
		// What parses formats back to something that parses to the same value.
		again, err := ParseSignature(sig.String())
		if err != nil {
			t.Fatalf("ParseSignature(String() = %q) error = %v", sig.String(), err)
		}
		if again.KeyID != sig.KeyID || again.Algorithm != sig.Algorithm || !again.Timestamp.Equal(sig.Timestamp) ||
			again.Nonce != sig.Nonce || !bytes.Equal(again.MAC, sig.MAC) {
			t.Fatalf("round trip of %q = %+v, want %+v", v, again, sig)
		}
		if !validKeyID(sig.KeyID) || !validNonce(sig.Nonce) || len(sig.MAC) != sha256.Size {
			t.Fatalf("ParseSignature(%q) accepted invalid fields: %+v", v, sig)
		}
	})
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"", ""},
		{"a=1", "a=1"},
		{"b=2&a=x+y&a=1", "a=1&a=x%20y&b=2"},
		{"b=2&a=x%20y&a=1", "a=1&a=x%20y&b=2"},
		{"flag", "flag="},
		{"k=%2F%7e~*", "k=%2F~~%2A"},
		{"%C3%A9t%C3%A9=%E2%9C%93", "%C3%A9t%C3%A9=%E2%9C%93"},
	}
	for _, tt := range tests {
		got, err := canonicalQuery(tt.raw)
		if err != nil || got != tt.want {
			t.Errorf("canonicalQuery(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
		}
	}
	if _, err := canonicalQuery("a=%zz"); err == nil {
		t.Errorf("canonicalQuery(%q) error = nil, want an error", "a=%zz")
	}
}

func TestCanonicalRequest(t *testing.T) {
	u, _ := url.Parse("https://api.example/v1/pay%2Fments?currency=EUR&amount=100")
	got, err := canonicalRequest("svc-1", time.Unix(1700000000, 0), "bm9uY2U", "post", u, contentDigest(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	want := "RAMPART-HMAC-SHA256\n" +
		"svc-1\n" +
		"1700000000\n" +
		"bm9uY2U\n" +
		"POST\n" +
		"/v1/pay%2Fments\n" +
		"amount=100&currency=EUR\n" +
		"sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
	if got != want {
		t.Errorf("canonicalRequest() = %q, want %q", got, want)
	}
	u, _ = url.Parse("https://api.example")
	got, _ = canonicalRequest("k", time.Unix(0, 0), "n", "GET", u, "d")
	if want := "RAMPART-HMAC-SHA256\nk\n0\nn\nGET\n/\n\nd"; got != want {
		t.Errorf("canonicalRequest(empty path) = %q, want %q", got, want)
	}
}
