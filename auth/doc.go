// Package auth authenticates service-to-service calls: credentials for outgoing
// requests (static tokens and API keys, OAuth2 client credentials, HMAC request
// signing, mutual TLS) and, for incoming requests, the verifiers of the same
// contracts as [net/http] middleware (JWT, HMAC signatures, client certificates).
//
// # Outgoing requests
//
// Outgoing credentials implement [Credentials], a single method that adds them to
// a request. [Transport] is the [http.RoundTripper] that applies them, keeping the
// net/http contract (clone before changing, close every body, replay only through
// GetBody):
//
//	creds, err := auth.NewClientCredentials(auth.ClientCredentialsConfig{
//		TokenURL:     "https://idp.example/oauth2/token",
//		ClientID:     "orders",
//		ClientSecret: auth.NewSecret(os.Getenv("ORDERS_CLIENT_SECRET")),
//	})
//	client := &http.Client{Transport: auth.NewTransport(nil, creds)}
//
// Credentials never follow a redirect to another origin: [Transport] applies them
// only to the scheme, host and port of the first request of a redirect chain. When
// the credentials are a [Refresher] ([ClientCredentials] is one), a 401 answer
// makes the Transport renew them and send the request once more, if its body can
// be replayed.
//
// # Secrets
//
// A [Secret] prints, logs and marshals as "[REDACTED]"; only [Secret.Reveal]
// returns the value. A [SecretSource] provides a secret on every request, so that
// rotation needs no restart: a [Secret] itself, an [EnvSecret] (an environment
// variable read each time), or a [FileSecret] (a file re-read when its size,
// modification time or identity changes, checked at most once per interval, with
// no goroutine). Every credential takes its secret as a SecretSource: the
// static ones load it for each request, [HMACSigner] its key for each signature,
// and [ClientCredentials] its client secret for each token request. No error of
// this package contains a secret.
//
// # Static tokens and API keys
//
// [Static] credentials put a secret in a header: [Bearer] sends
// "Authorization: Bearer <token>", [APIKey] sends "X-Api-Key: <key>", and
// [NewStatic] takes any header and scheme.
//
// # OAuth2 client credentials
//
// [ClientCredentials] obtains tokens with the client credentials grant through
// [golang.org/x/oauth2/clientcredentials]. The token is cached and refreshed
// [ClientCredentialsConfig.EarlyRefresh] before it expires (at most half its
// lifetime early). One token request serves any number of concurrent callers:
// while no valid token exists they wait for it, each bounded by its own context;
// while the current token is about to expire, one caller refreshes it and the
// others keep using it, as they do if that refresh fails. After a 401, the rejected
// token is dropped once, however many requests carried it, and the request is
// retried with a new one.
//
// # HMAC request signing
//
// [HMACSigner] signs requests with a key shared with the receiver, which checks
// them with an [HMACVerifier]. A signed request carries three headers:
//
//	X-Rampart-Signature: keyId=<id>,algorithm=hmac-sha256,ts=<unix seconds>,nonce=<nonce>,signature=<base64>
//	X-Rampart-Date: <the same instant as an HTTP-date, e.g. Tue, 14 Nov 2023 22:13:20 GMT>
//	Content-Digest: sha-256=:<base64 of the SHA-256 of the body>:
//
// The signature is the standard, padded base64 of HMAC-SHA256(key, C), where the
// canonical form C is these eight lines joined by a line feed ("\n", no line feed
// after the last one):
//
//	RAMPART-HMAC-SHA256
//	<keyId>
//	<ts: decimal seconds since the Unix epoch, as in the header>
//	<nonce: 16 random bytes in unpadded URL-safe base64, as in the header>
//	<method, in upper case>
//	<path: the URL's escaped path (url.URL.EscapedPath), "/" if empty>
//	<query: see below; empty if there is none>
//	<digest: the Content-Digest value, "sha-256=:<base64>:"; an absent body hashes as empty>
//
// The canonical query decodes the raw query into name/value pairs (a name
// without "=" has an empty value), percent-encodes each name and value as RFC 3986
// unreserved characters (A-Z a-z 0-9 - . _ ~ kept, everything else %XX in upper
// case, space as %20), writes each pair as name=value, sorts the pairs as byte
// strings and joins them with "&". For example "b=2&a=x+y&a=1" becomes
// "a=1&a=x%20y&b=2".
//
// The verifier rejects a signature whose ts is more than
// [HMACVerifierConfig.MaxSkew] (default 5 minutes) away from its clock, whose key ID
// is unknown, whose Content-Digest does not match the body, whose HMAC does not
// match (compared in constant time), or which it has already seen: verified
// signatures are remembered, in a bounded cache, until they fall out of the
// window. The random nonce makes two identical requests in the same second
// distinct. Host and other headers are not signed.
//
// # Mutual TLS
//
// [ClientTLSConfig] and [ServerTLSConfig] build a *tls.Config from PEM files
// ([TLSFiles]): TLS 1.2 at least, verification on, and errors ([PEMError]) that
// name the file at fault. [ClientCertVerifier] then checks which verified client
// certificates a server accepts, by common name, DNS or URI subject alternative
// name, or organisation.
//
// # Incoming requests
//
// Each verifier has a Middleware method, a func(http.Handler) http.Handler:
//
//   - [JWTVerifier] checks bearer tokens with golang-jwt/jwt/v5: signature with the
//     key of the token's "kid" from a [KeySet] ([StaticKeys], or a [JWKS] from a URL
//     or file), each key bound to one algorithm from an allowed list ("none" never),
//     issuer, audience, and expiry with leeway; then required scopes. It puts the
//     [Claims] in the request context ([ClaimsFromContext]).
//   - [HMACVerifier] checks signed requests as described above and restores the
//     body for the handler ([HMACKeyIDFromContext]).
//   - [ClientCertVerifier] checks the client certificate ([ClientCertFromContext]).
//
// Rejections follow RFC 6750 and RFC 9457: 401 with "WWW-Authenticate: Bearer
// error="invalid_token", error_description="..."" (or the Rampart-HMAC scheme),
// 403 with error="insufficient_scope" for missing scopes, and an
// application/problem+json body. Each verifier also has a method that checks
// without HTTP answers (Verify), for other transports.
//
// # Development tokens
//
// [DevIssuer] stands in for an identity provider in development and tests: it
// makes an ES256 key, gives its public half to a verifier ([DevIssuer.JWTConfig],
// or as a JWK Set served over HTTP for a [JWKS]), and mints tokens with the
// subject, audience, scopes and lifetime asked for ([DevIssuer.Mint]). Its key
// lives in memory only.
//
// # Errors
//
// Callers branch with [errors.Is] on exported sentinels: [ErrInvalidToken],
// [ErrExpired], [ErrNotYetValid], [ErrInvalidIssuer], [ErrInvalidAudience],
// [ErrUnknownKey], [ErrAlgorithmNotAllowed], [ErrSignatureMismatch],
// [ErrInsufficientScope], [ErrReplay], [ErrDigestMismatch], [ErrMalformedSignature],
// [ErrMissingCredentials], [ErrNoSecret], [ErrTokenFetch], [ErrInvalidPEM],
// [ErrNoClientCert], [ErrClientCertNotAllowed], [ErrInvalidConfig] and others;
// struct types ([TokenError], [SignatureError], [ScopeError], [TokenFetchError],
// [PEMError], [SecretError], [ConfigError], [ClientCertError]) carry the details.
// Messages start with "auth:".
//
// # Concurrency
//
// Every type of the package is safe for concurrent use once built. None starts a
// goroutine, so none needs closing. Verifiers log rejections through an optional
// *slog.Logger and are silent by default.
package auth
