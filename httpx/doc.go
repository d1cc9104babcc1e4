// Package httpx is the client side of HTTP: an [http.RoundTripper] that sends each
// request through the standard resilience pipeline, typed JSON calls on top of it,
// errors that carry what the server said, and logs that never show a secret.
//
//	payments, err := httpx.NewClient(httpx.Options{
//		Name:            "payments",
//		BaseURL:         "https://api.payments.example.com",
//		IdempotencyKeys: true,
//		Auth:            creds, // an auth.Credentials, sent only to BaseURL's host
//		Logger:          logger,
//	})
//	pay, err := httpx.GetJSON[Payment](ctx, payments, httpx.Path("/v1/payments/{id}", id), nil)
//
// # The pipeline
//
// A [Transport], built by [NewTransport] (or wrapped in an *http.Client by
// [NewHTTPClient] and [NewClient]), runs every request through these stages,
// outermost first, each configured or switched off by [Options]:
//
//  1. rate limiter (Options.RateLimiter; off by default);
//  2. total timeout (30s): every attempt, the waits between them, and the reading
//     of the final body;
//  3. retry (3 retries, exponential backoff from 100ms with full jitter, Retry-After
//     honoured); see below;
//  4. circuit breaker, one per authority (host and port): a host that fails does
//     not open the breaker of another; [Transport.Breakers] lists them;
//  5. attempt timeout (10s);
//  6. auth ([Authenticator] or Options.AuthTransport), for the allowed hosts only;
//  7. logging (one record per attempt);
//  8. observer ([Observer]: metrics and traces; nothing when nil);
//  9. the base transport: for the clients of [NewHTTPClient] and [NewClient], a tuned
//     one of their own ([NewBaseTransport]: keep-alives, 32 idle connections per
//     host, HTTP/2, TLS 1.2 or later with verification on); for a bare [NewTransport],
//     Options.Base, or [http.DefaultTransport] when nil.
//
// Within an attempt, the breaker is asked once the attempt's timeout runs and its
// credentials are applied, so that a failure of the auth stage (a token endpoint
// that is down) does not count against the host, while an attempt that times out
// does.
//
// The options are validated once, by the constructor, with errors that name the
// field ("httpx: Options.AttemptTimeout: must be below Options.TotalTimeout (30s),
// got 30s"): the attempt timeout must be below the total timeout, and a breaker's
// sampling window at least twice the attempt timeout.
//
// The Transport keeps the net/http contract: every status is a response and a nil
// error; the caller's request is never modified (each attempt sends a copy); the
// request body is closed on every path. The body of the response it returns stays
// bound to the call's timeouts, which keep running until the caller closes it.
//
// # Retry semantics
//
// An attempt is retried when it ends in a transport error, an attempt timeout, or a
// status of RetryOptions.Statuses (by default 408, 429, 500, 502, 503 and 504), but
// only if the request can safely be sent again:
//
//   - its method is idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE), or it carries
//     an Idempotency-Key header, which Options.IdempotencyKeys adds to every POST
//     and PATCH (one key for all the attempts of a call; [WithIdempotencyKey] sets
//     it from a business ID);
//   - its body, if any, can be replayed through GetBody; a body that cannot is never
//     sent twice.
//
// A response that is dropped for a retry is drained (up to 4 KiB) and closed, so that
// its connection is reused. A Retry-After header, in seconds or as an HTTP-date
// ([ParseRetryAfter]), replaces the backoff, up to RetryOptions.MaxRetryAfter; a wait
// that would end after the call's deadline is not waited: the last response is
// returned at once. The caller's cancellation, the total timeout, rejections of the
// breaker or the rate limiter and certificate errors are never retried. Each
// attempt's context carries its number ([resilience.AttemptFromContext]), which logs
// and [AttemptInfo] report (http.request.resend_count is one less).
//
// # Errors
//
// The Transport returns what the pipeline decided: a response (whatever its status),
// a transport error, or a rejection of a policy, which matches
// [resilience.ErrRateLimited], [resilience.ErrBreakerOpen], [resilience.ErrTimeout]
// or [resilience.ErrRetriesExhausted] (which unwraps to the last error).
//
// After the pipeline, [CheckResponse] and the typed calls turn a final status other
// than 2xx into a [*StatusError] (matching [ErrStatus]): the status, the method, the
// URL with its secrets redacted, the Retry-After, the start of the body, and the
// RFC 9457 problem details ([Problem]) when the response is
// application/problem+json. A body that cannot be decoded is a [*DecodeError]
// (matching [ErrDecode]) that names the JSON field where the decoder says it.
//
// # Typed calls
//
// A [Client] holds a base URL and an *http.Client; [GetJSON], [PostJSON], [PutJSON],
// [DoJSON] and [Delete] build the URL from a path ([Path] escapes its parameters) and
// query values, encode the request as JSON, check the status and decode the
// response, with a size limit. A typed method is a few lines:
//
//	func (p *PaymentClient) GetPaymentStatus(ctx context.Context, id string) (Payment, error) {
//		pay, err := httpx.GetJSON[Payment](ctx, p.c, httpx.Path("/v1/payments/{id}", id), nil)
//		if httpx.StatusCode(err) == http.StatusNotFound {
//			return Payment{}, fmt.Errorf("%w: %s", ErrPaymentNotFound, id)
//		}
//		return pay, err
//	}
//
// Over a Transport, a typed call reads the response body inside the attempt, so that
// a connection reset in the middle of a body is retried like any transport error.
//
// # Logging and redaction
//
// With Options.Logger set, the Transport logs one record per attempt at Info
// ("http attempt": method, url, status, duration, attempt, request_id, error), and,
// at Debug, the attempt's headers and the start of its bodies (Options.MaxLoggedBody,
// 2 KiB by default). Without a Logger it logs nothing.
//
// Secrets never reach a log line, nor the errors of this package (a StatusError's
// or DecodeError's URL, the *url.Error of a typed call): the values of Authorization,
// Proxy-Authorization, Cookie, Set-Cookie, X-Api-Key, X-Auth-Token and the headers
// of Options.RedactHeaders are replaced by [Redacted], as are the user information of
// URLs, the values of the query parameters of [DefaultRedactedQuery] and
// Options.RedactQuery, and the members of logged JSON and form bodies that bear those names.
//
// A request ID ([WithRequestID]) and a W3C traceparent ([WithTraceparent]) in the
// context are sent as X-Request-ID and traceparent on requests that have none.
//
// Credentials never leave for another host: the auth stage adds them only for
// BaseURL's authority and Options.AuthHosts, and [Transport.CheckRedirect] (the
// CheckRedirect of the clients this package builds) removes the credential headers
// the caller set when a redirect leads to another authority.
package httpx
