// Package api is the customers service's HTTP API: JSON over net/http's
// ServeMux patterns, RFC 9457 problem details for every error, and the
// middleware that gives each request its ID.
//
//	POST /customers                  create a customer            (bearer token)
//	GET  /customers?after=&limit=    list customers, oldest first
//	GET  /customers/{id}             a customer, its e-mails and latest orders
//	POST /customers/{id}/promote     make a customer a VIP        (bearer token)
//	POST /orders                     create an order and pay it   (bearer token)
//	GET  /orders/{id}                an order, its payment and its reservations
//	POST /orders/{id}/refund         refund an order in full      (bearer token)
//
// Write endpoints are wrapped in the JWT verifier's middleware
// ([Config.Authenticate]); reads are open.
//
// # Errors
//
// Every error is an application/problem+json body (RFC 9457) with type, title,
// status, detail, instance and the request ID. Invalid input is 422 with an
// "errors" member listing each field ("items[1].quantity") and what is wrong
// with it; a body that is not JSON is 400; an unknown ID 404; a conflict (an
// e-mail address in use, a refund of an unpaid order) 409; an unavailable
// provider 503 with Retry-After.
//
// # Request IDs
//
// [RequestID] gives every request an ID: the client's X-Request-ID when it is a
// plausible one, else a new one; it is echoed in the response, logged with
// every record of the request (see [Logged]), sent on the calls to the providers
// (httpx.WithRequestID), and carried by the events the request produces as their
// correlation ID (bus.ContextWithCorrelationID), which the event handlers pass
// on to their own calls.
package api
