package domain

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// CustomerType is regular or VIP.
type CustomerType string

// The customer types.
const (
	Regular CustomerType = "regular"
	VIP     CustomerType = "vip"
)

// Customer is a customer of the shop.
type Customer struct {
	ID        string
	Name      string
	Email     string
	Type      CustomerType
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewCustomerInput is what a client sends to create a customer.
type NewCustomerInput struct {
	Name  string       `json:"name"`
	Email string       `json:"email"`
	Type  CustomerType `json:"type"` // empty means regular
}

// Limits of a customer's fields.
const (
	MaxNameLen  = 200
	MaxEmailLen = 254
)

// NewCustomer validates in and returns the customer it describes, with a new ID
// and the time now. Leading and trailing spaces of the name and e-mail address
// are dropped, and the domain of the address is lower-cased.
func NewCustomer(in NewCustomerInput, now time.Time) (Customer, error) {
	var errs fields
	name := strings.TrimSpace(in.Name)
	switch {
	case name == "":
		errs.add("name", "is required")
	case utf8.RuneCountInString(name) > MaxNameLen:
		errs.add("name", fmt.Sprintf("must be at most %d characters", MaxNameLen))
	case !utf8.ValidString(name) || strings.ContainsFunc(name, isControl):
		errs.add("name", "must be printable text")
	}
	email, detail := normalizeEmail(in.Email)
	if detail != "" {
		errs.add("email", detail)
	}
	typ := in.Type
	switch typ {
	case "":
		typ = Regular
	case Regular, VIP:
	default:
		errs.add("type", fmt.Sprintf("must be %q or %q", Regular, VIP))
	}
	if err := errs.err(); err != nil {
		return Customer{}, err
	}
	id, err := NewID()
	if err != nil {
		return Customer{}, err
	}
	now = stamp(now)
	return Customer{ID: id, Name: name, Email: email, Type: typ, CreatedAt: now, UpdatedAt: now}, nil
}

// Promote makes c a VIP. It reports whether that changed anything: promoting a
// VIP does nothing.
func (c *Customer) Promote(now time.Time) bool {
	if c.Type == VIP {
		return false
	}
	c.Type, c.UpdatedAt = VIP, stamp(now)
	return true
}

// normalizeEmail returns the address with its domain lower-cased, or what is
// wrong with it. The rules are those of the e-mail provider: a bare address
// ("ann@example.com", no display name) whose domain has a dot.
func normalizeEmail(s string) (string, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "is required"
	}
	if len(s) > MaxEmailLen {
		return "", fmt.Sprintf("must be at most %d characters", MaxEmailLen)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", "must be an e-mail address such as ann@example.com"
	}
	at := strings.LastIndexByte(s, '@')
	domain := strings.ToLower(s[at+1:])
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", "must have a domain such as example.com"
	}
	return s[:at+1] + domain, ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
