package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// HTTPOptions configure an [HTTP] check. The zero value sends a GET with a client of
// the check's own and expects a 2xx status.
type HTTPOptions struct {
	// Client sends the probe. Nil means a client of the check's own that opens a
	// new connection for each probe, does not follow redirects, and has no timeout
	// but the check's. Do not pass the client the service calls the dependency
	// with: its retries and circuit breaker would hide what the probe is for.
	Client *http.Client
	// Method is the request method. Empty means GET.
	Method string
	// Header is added to the request (an API key, say). It is not modified.
	Header http.Header
	// MinStatus and MaxStatus bound the expected status codes, inclusive. Zero
	// means 200 and 299; both must be within 100-599 and MinStatus <= MaxStatus.
	MinStatus, MaxStatus int
}

// maxDrain bounds how much of a response body a probe reads before closing it.
const maxDrain = 64 << 10

// HTTP returns a check of an HTTP dependency through a probe URL, keyed
// "component:responseTime", of type "system", with the URL's host as ComponentID.
// It observes how long the response took to arrive, in milliseconds, and fails on a
// transport error or a status outside [MinStatus, MaxStatus]; the output names the
// status, never the URL (which may carry credentials). The body is read up to
// 64 KiB and closed. An invalid URL or options make [New] fail.
func HTTP(component, rawURL string, opts HTTPOptions) Check {
	c := Check{Component: component, Measurement: "responseTime", ComponentType: "system"}
	var errs []error
	u, err := url.Parse(rawURL)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("HTTP: invalid URL: %w", err))
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("HTTP: URL scheme must be http or https, got %q", u.Scheme))
	case u.Host == "":
		errs = append(errs, errors.New("HTTP: URL has no host"))
	default:
		c.ComponentID = u.Host
	}
	if opts.MinStatus == 0 {
		opts.MinStatus = 200
	}
	if opts.MaxStatus == 0 {
		opts.MaxStatus = 299
	}
	if opts.MinStatus < 100 || opts.MaxStatus > 599 || opts.MinStatus > opts.MaxStatus {
		errs = append(errs, fmt.Errorf("HTTPOptions: status range %d-%d: want 100 <= MinStatus <= MaxStatus <= 599", opts.MinStatus, opts.MaxStatus))
	}
	if opts.Method == "" {
		opts.Method = http.MethodGet
	}
	if len(errs) > 0 {
		c.invalid = errors.Join(errs...)
		return c
	}
	client := opts.Client
	if client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DisableKeepAlives = true
		client = &http.Client{
			Transport:     t,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	header := opts.Header.Clone()
	c.Run = func(ctx context.Context) (Result, error) {
		req, err := http.NewRequestWithContext(ctx, opts.Method, u.String(), nil)
		if err != nil {
			return Result{}, fmt.Errorf("health: building the probe request: %w", err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		start := time.Now()
		resp, err := client.Do(req)
		took := millis(time.Since(start))
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // the URL may carry secrets
			}
			return Result{ObservedValue: took, ObservedUnit: "ms"}, fmt.Errorf("%s: %w", opts.Method, err)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		resp.Body.Close()
		r := Result{ObservedValue: took, ObservedUnit: "ms"}
		if resp.StatusCode < opts.MinStatus || resp.StatusCode > opts.MaxStatus {
			r.Status = StatusFail
			r.Output = fmt.Sprintf("status %s, want %d-%d", resp.Status, opts.MinStatus, opts.MaxStatus)
		}
		return r, nil
	}
	return c
}
