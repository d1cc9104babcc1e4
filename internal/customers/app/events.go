package app

import (
	"fmt"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/internal/customers/domain"
)

// Events returns a registry of the service's event types under their stable
// names (domain.CustomerCreatedType, ...): the registry of the bus that encodes
// and handles them.
func Events() (*bus.Registry, error) {
	r := bus.NewRegistry()
	for _, err := range []error{
		bus.Register[domain.CustomerCreated](r, domain.CustomerCreatedType),
		bus.Register[domain.CustomerPromotedToVip](r, domain.CustomerPromotedToVipType),
		bus.Register[domain.OrderCreated](r, domain.OrderCreatedType),
	} {
		if err != nil {
			return nil, fmt.Errorf("app: events: %w", err)
		}
	}
	return r, nil
}
