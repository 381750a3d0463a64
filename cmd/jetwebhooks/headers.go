package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jetwebhooks/jetwebhooks/client"
)

// headerFlags are the custom-header flags of webhooks create and update:
// --header 'Name: value' (repeatable), --headers-file PATH (- for stdin)
// with one 'Name: value' a line, and on update --clear-headers. A value may
// be a credential, so it can come from a file or stdin instead of the
// command line (where ps shows it), and no error message ever quotes one.
type headerFlags struct {
	headers []string
	file    string
	clear   bool
}

// maxHeadersFile bounds --headers-file: the server takes 4 KiB of headers.
const maxHeadersFile = 64 << 10

func (hf *headerFlags) add(cmd *cobra.Command, update bool) {
	f := cmd.Flags()
	what := "send this custom header with every delivery"
	if update {
		what = "replace every custom header with these (repeatable; give the whole set)"
	}
	f.StringArrayVar(&hf.headers, "header", nil, `'Name: value': `+what+`; values on the command line are visible in ps, prefer --headers-file`)
	f.StringVar(&hf.file, "headers-file", "", "read custom headers from this file (- for stdin), one 'Name: value' a line; # starts a comment")
	if update {
		f.BoolVar(&hf.clear, "clear-headers", false, "remove every custom header (send null)")
	}
}

// given reports whether any header flag was given.
func (hf *headerFlags) given(cmd *cobra.Command) bool {
	return changed(cmd, "header") || changed(cmd, "headers-file") || hf.clear
}

// read returns the headers the flags give (nil when none was given),
// reading the file or stdin. Names are checked here only for what the
// syntax needs (a colon, a name, one of each name); the server decides the
// rest and answers in its words.
func (hf *headerFlags) read(cmd *cobra.Command) (map[string]string, error) {
	if hf.clear && (changed(cmd, "header") || changed(cmd, "headers-file")) {
		return nil, usagef("--clear-headers contradicts --header and --headers-file")
	}
	out := map[string]string{}
	seen := map[string]string{} // lower-case name → as given
	put := func(where, line string) error {
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return usagef(`%s: expected "Name: value"`, where)
		}
		if prev, dup := seen[strings.ToLower(name)]; dup {
			return usagef("%s: header %q is given twice (as %q before; names are compared without regard to case)", where, name, prev)
		}
		seen[strings.ToLower(name)] = name
		out[name] = strings.Trim(value, " \t")
		return nil
	}
	for i, h := range hf.headers {
		if err := put(fmt.Sprintf("--header %d", i+1), h); err != nil {
			return nil, err
		}
	}
	if changed(cmd, "headers-file") {
		var r io.Reader
		if hf.file == "-" {
			r = cmd.InOrStdin()
		} else {
			f, err := os.Open(hf.file)
			if err != nil {
				return nil, usagef("--headers-file: %v", err)
			}
			defer f.Close()
			r = f
		}
		b, err := io.ReadAll(io.LimitReader(r, maxHeadersFile+1))
		if err != nil {
			return nil, fmt.Errorf("--headers-file: read: %w", err)
		}
		if len(b) > maxHeadersFile {
			return nil, usagef("--headers-file: larger than %d bytes", maxHeadersFile)
		}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		sc.Buffer(make([]byte, 0, 4096), maxHeadersFile+1)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimRight(sc.Text(), "\r")
			if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			if err := put(fmt.Sprintf("--headers-file %s, line %d", displayPath(hf.file), n), line); err != nil {
				return nil, err
			}
		}
	}
	if len(out) == 0 && changed(cmd, "headers-file") {
		return nil, usagef("--headers-file: %s has no 'Name: value' line", displayPath(hf.file))
	}
	return out, nil
}

// headerRows are a webhook's custom headers as table rows, sorted by name.
func headerRows(w *client.Webhook) [][2]string {
	if w.Headers == nil {
		return nil
	}
	names := make([]string, 0, len(*w.Headers))
	for name := range *w.Headers {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	rows := make([][2]string, len(names))
	for i, name := range names {
		rows[i] = [2]string{name, (*w.Headers)[name]}
	}
	return rows
}
