package outbox

// SetIdleHook makes r call f each time it has found nothing to publish and
// starts to wait (for a wake-up or its poll). Call it before Start.
func SetIdleHook(r *Relay, f func()) { r.onIdle = f }
