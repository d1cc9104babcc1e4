package resilience

// Outcome is the result of one execution as predicates see it: the value (boxed;
// for a pointer type such as *http.Response boxing costs nothing) and the error.
type Outcome struct {
	Value   any
	Err     error
	Attempt int // 1-based attempt number, where the policy counts attempts
}

// outcomeOf boxes a typed result for a predicate. Policies call it only when a
// predicate that looks at values is configured, so the happy path does not box.
func outcomeOf[T any](v T, err error, attempt int) Outcome {
	return Outcome{Value: v, Err: err, Attempt: attempt}
}

// Must returns v, or panics if err is not nil. It suits package-level policies built
// from constant options, and examples.
func Must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
