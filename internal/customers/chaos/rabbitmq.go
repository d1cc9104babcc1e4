package chaos

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
)

// On RabbitMQ the rehearsal runs in a virtual host of its own, made with
// rabbitmqctl for the run and deleted after it: its queues never meet another
// program's, and a broker cut closes the service's connections only, never
// those of other programs on the same broker.

// rabbitVhost is the rehearsal's virtual host.
type rabbitVhost struct {
	ctl  string // the rabbitmqctl command
	name string
	url  string // the broker's URL, with the virtual host
}

// newRabbitVhost makes a virtual host for the run on the broker at busURL,
// and gives the URL's user every permission on it.
func newRabbitVhost(ctx context.Context, ctl, busURL string) (*rabbitVhost, error) {
	u, err := url.Parse(busURL)
	if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Host == "" {
		return nil, fmt.Errorf("chaos: the broker's URL must be amqp://user:password@host:port/, got %q", redactURL(busURL))
	}
	user := u.User.Username()
	if user == "" {
		user = "guest" // amqp091-go's default
	}
	v := &rabbitVhost{ctl: ctl, name: "customers-chaos-" + randomHex()[:12]}
	if _, err := v.run(ctx, "add_vhost", v.name); err != nil {
		return nil, err
	}
	if _, err := v.run(ctx, "set_permissions", "-p", v.name, user, ".*", ".*", ".*"); err != nil {
		_ = v.remove(context.WithoutCancel(ctx))
		return nil, err
	}
	u.Path, u.RawPath = "/"+v.name, ""
	v.url = u.String()
	return v, nil
}

// run runs rabbitmqctl with args and returns its output.
func (v *rabbitVhost) run(ctx context.Context, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, v.ctl, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("chaos: %s %s: %w: %s", v.ctl, strings.Join(args, " "), err, strings.Join(strings.Fields(string(out)), " "))
	}
	return out, nil
}

// cut closes every connection to the virtual host (the service's), by the
// pid rabbitmqctl close_connection takes, and
// returns how many it closed.
func (v *rabbitVhost) cut(ctx context.Context) (int, error) {
	out, err := v.run(ctx, "-q", "list_connections", "--no-table-headers", "pid", "vhost")
	if err != nil {
		return 0, err
	}
	var pids []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		pid, vhost, ok := strings.Cut(sc.Text(), "\t")
		if ok && strings.TrimSpace(vhost) == v.name {
			pids = append(pids, strings.TrimSpace(pid))
		}
	}
	if len(pids) == 0 {
		return 0, errors.New("chaos: the service has no connection to the broker to cut")
	}
	var errs []error
	for _, pid := range pids {
		if _, err := v.run(ctx, "close_connection", pid, "chaos rehearsal: broker connection cut"); err != nil {
			errs = append(errs, err)
		}
	}
	return len(pids) - len(errs), errors.Join(errs...)
}

// remove deletes the virtual host, and its queues and exchanges with it.
func (v *rabbitVhost) remove(ctx context.Context) error {
	_, err := v.run(ctx, "delete_vhost", v.name)
	return err
}

// redactURL returns s with the password of a URL replaced.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(an invalid URL)"
	}
	return u.Redacted()
}
