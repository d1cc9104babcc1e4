package config

import (
	"bytes"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// WriteYAML writes the configuration as YAML: every setting, with the defaults
// filled in, in the schema of the file, so that the output loads back to the same
// configuration. Secrets are shown as the variable or the file they come from,
// or "[REDACTED]" for a value written out, and passwords in URLs as
// "[REDACTED]"; such a value does not load back.
//
// The program's sections ([LoadOptions.Sections]) follow Rampart's, as their
// structs marshal (a [Duration] as "2s", a [Secret] redacted; give a field of
// another type that must not be printed a MarshalYAML of its own).
func (c *Config) WriteYAML(w io.Writer) error {
	var doc yaml.Node
	if err := doc.Encode(c); err != nil {
		return err
	}
	for _, name := range sortedKeys(c.sections) {
		var v yaml.Node
		if err := v.Encode(c.sections[name]); err != nil {
			return fmt.Errorf("config: section %s: %w", name, err)
		}
		doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name}, &v)
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
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
