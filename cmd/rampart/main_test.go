package main

import (
	"testing"

	"github.com/rampart-go/rampart/internal/testenv"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type syncBuffer = testenv.LogBuffer
