package secretbox

import (
	"fmt"
)

// Custom header values may be credentials (a bearer token for the receiver),
// so they are sealed like webhook secrets: each value on its own, with the
// current key, so key rotation applies value by value. Names stay in clear:
// the portal lists them, and they are not secret.

// sealHeaders returns a copy of h with every value sealed (nil for none).
func (s *sealed) sealHeaders(h map[string]string) (map[string]string, error) {
	if len(h) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(h))
	for name, v := range h {
		sv, err := s.box.Seal(v)
		if err != nil {
			return nil, err
		}
		out[name] = sv
	}
	return out, nil
}

// openHeaders returns a copy of h with every value opened. The error names
// the header, never its value.
func (s *sealed) openHeaders(h map[string]string) (map[string]string, error) {
	if len(h) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(h))
	for name, v := range h {
		pv, err := s.box.Open(v)
		if err != nil {
			return nil, fmt.Errorf("header %q: %w", name, err)
		}
		out[name] = pv
	}
	return out, nil
}
