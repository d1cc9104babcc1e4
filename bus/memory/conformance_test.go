package memory_test

import (
	"testing"

	"github.com/rampart-go/rampart/bus"
	"github.com/rampart-go/rampart/bus/bustest"
	"github.com/rampart-go/rampart/bus/memory"
)

func TestConformance(t *testing.T) {
	bustest.Run(t, bustest.Features{}, func(t *testing.T) bus.Transport { return memory.New() })
}
