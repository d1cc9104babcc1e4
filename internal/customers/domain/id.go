package domain

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// NewID returns a new ID for a customer or an order: a UUIDv7, which sorts by
// creation time (lists are ordered by ID).
func NewID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("domain: new ID: %w", err)
	}
	return id.String(), nil
}

// ValidID reports whether id has the form of an ID from [NewID]: a canonical
// lower-case UUID. The API answers 404 at once for any other.
func ValidID(id string) bool {
	if len(id) != 36 {
		return false
	}
	u, err := uuid.Parse(id)
	return err == nil && u.String() == id
}

// stamp returns t as the service records times: UTC, to the microsecond (what
// both databases keep).
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
