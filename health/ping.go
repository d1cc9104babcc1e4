package health

import (
	"context"
	"errors"
	"math"
	"time"
)

// Ping returns a check of a datastore that answers a ping: Redis, PostgreSQL, or
// anything with a function that fails when it is unreachable. The check is keyed
// "component:responseTime", of type "datastore", and observes how long ping took,
// in milliseconds; it fails with ping's error. ping must honour its context, as the
// drivers' ping methods do:
//
//	health.Ping("postgres", db.PingContext)          // database/sql
//	health.Ping("postgres", pool.Ping)               // pgxpool
//	health.Ping("redis", func(ctx context.Context) error {
//		return rdb.Ping(ctx).Err()                   // go-redis
//	})
//
// A nil ping makes [New] fail.
func Ping(component string, ping func(ctx context.Context) error) Check {
	c := Check{Component: component, Measurement: "responseTime", ComponentType: "datastore"}
	if ping == nil {
		c.invalid = errors.New("Ping: the ping function is nil")
		return c
	}
	c.Run = func(ctx context.Context) (Result, error) {
		start := time.Now()
		err := ping(ctx)
		return Result{ObservedValue: millis(time.Since(start)), ObservedUnit: "ms"}, err
	}
	return c
}

// millis returns d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}
