package config

import (
	"bytes"
	"io"

	"go.yaml.in/yaml/v3"
)

// WriteYAML writes the configuration as YAML: every setting, with the defaults
// filled in, in the schema of the file, so that the output loads back to the same
// configuration. Secrets are shown as the variable or the file they come from,
// or "[REDACTED]" for a value written out, and passwords in URLs as
// "[REDACTED]"; such a value does not load back.
func (c *Config) WriteYAML(w io.Writer) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return err
	}
	return enc.Close()
}

// YAML returns what [Config.WriteYAML] writes.
func (c *Config) YAML() ([]byte, error) {
	var b bytes.Buffer
	if err := c.WriteYAML(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
