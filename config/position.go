package config

import (
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The YAML parser behind koanf returns plain maps, which know no line numbers.
// The file is parsed a second time into yaml.Nodes (by the same parser,
// go.yaml.in/yaml/v3, the maintained continuation of gopkg.in/yaml.v3) to map each
// key path to its line for the error messages.

// parseNodes parses data, the file name, checks that it is one YAML document
// whose top level is a mapping (or empty), and records the line of every key and
// list element in lines.
func (st *loadState) parseNodes(name string, data []byte, lines map[string]int) bool {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return true // an empty file
		}
		st.syntaxErrorIn(name, err)
		return false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		st.syntaxErrorIn(name, err)
		return false
	default:
		st.errs = append(st.errs, &FieldError{File: name, Line: next.Line,
			Msg: "the file holds more than one YAML document; put everything in one"})
		return false
	}
	if len(doc.Content) == 0 {
		return true
	}
	root := doc.Content[0]
	switch {
	case root.Kind == yaml.MappingNode:
	case root.Kind == yaml.ScalarNode && root.Tag == "!!null":
		return true
	default:
		st.errs = append(st.errs, &FieldError{File: name, Line: root.Line,
			Msg: "the file must be a mapping of sections (clients, pipelines, bus, health, telemetry)"})
		return false
	}
	indexLines(lines, "", root, 0)
	return true
}

// indexLines records the lines of the keys and elements under n in lines.
func indexLines(lines map[string]int, path string, n *yaml.Node, depth int) {
	if depth > 64 {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				continue
			}
			p := join(path, k.Value)
			if _, seen := lines[p]; !seen {
				lines[p] = k.Line
			}
			indexLines(lines, p, v, depth+1)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := index(path, i)
			lines[p] = c.Line
			indexLines(lines, p, c, depth+1)
		}
	}
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// syntaxError reports an error of the YAML parser at its line; a TypeError (a
// duplicate key, say) holds one error per line.
func (st *loadState) syntaxError(err error) { st.syntaxErrorIn(st.file, err) }

// syntaxErrorIn is syntaxError for the file name.
func (st *loadState) syntaxErrorIn(name string, err error) {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, msg := range msgs {
		e := &FieldError{File: name, Msg: msg, Err: err}
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = "invalid YAML: " + m[2]
		}
		st.errs = append(st.errs, e)
	}
}
