package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// specJSON renders a YAML document as JSON with the same keys in the same
// order and the same scalars as written: an integer stays the integer it was
// (not 1e+06), a string stays a string. Tools that read the JSON and the YAML
// must see one document.
func specJSON(doc []byte) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("spec: parse YAML: %w", err)
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, &root); err != nil {
		return nil, fmt.Errorf("spec: render JSON: %w", err)
	}
	if !json.Valid(buf.Bytes()) {
		return nil, errors.New("spec: rendered JSON is invalid")
	}
	return buf.Bytes(), nil
}

func writeJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return errors.New("a document must hold one node")
		}
		return writeJSON(buf, n.Content[0])
	case yaml.AliasNode:
		return writeJSON(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				buf.WriteByte(',')
			}
			k, err := json.Marshal(n.Content[i].Value)
			if err != nil {
				return err
			}
			buf.Write(k)
			buf.WriteByte(':')
			if err := writeJSON(buf, n.Content[i+1]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, c); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int", "!!float":
			// Written as JSON numbers, as they stand, when they are JSON
			// numbers; YAML-only forms (0x1F, .inf) go through a value.
			if json.Valid([]byte(n.Value)) {
				buf.WriteString(n.Value)
				return nil
			}
			var v any
			if err := n.Decode(&v); err != nil {
				return err
			}
			b, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
			buf.Write(b)
		case "!!bool":
			var v bool
			if err := n.Decode(&v); err != nil {
				return err
			}
			fmt.Fprint(buf, v)
		case "!!null":
			buf.WriteString("null")
		default:
			b, err := json.Marshal(n.Value)
			if err != nil {
				return err
			}
			buf.Write(b)
		}
	default:
		return fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
	}
	return nil
}
