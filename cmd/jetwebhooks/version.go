package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set for release builds:
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/jetwebhooks
//
// Otherwise it is the module version Go recorded (a tagged `go install`), or
// "(devel)" for a build from a checkout.
var version = ""

// buildInfo is what `jetwebhooks version` reports.
type buildInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	Time      string `json:"time,omitempty"`
	Modified  bool   `json:"modified"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// readBuildInfo collects the version and the VCS stamp Go embeds in the
// binary (go build from a git checkout records the commit, its time and
// whether the tree had uncommitted changes).
func readBuildInfo() buildInfo {
	bi, _ := debug.ReadBuildInfo()
	return buildInfoFrom(bi)
}

// buildInfoFrom reads bi (nil when the binary carries none).
func buildInfoFrom(bi *debug.BuildInfo) buildInfo {
	b := buildInfo{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if b.Version == "" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	return b
}

// String is the one-line form: "jetwebhooks v1.2.3 (abc123def456, 2026-01-02T…, modified) go1.25 linux/amd64".
func (b buildInfo) String() string {
	s := "jetwebhooks " + b.Version
	if b.Revision != "" {
		rev := b.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += " (" + rev
		if b.Time != "" {
			s += ", " + b.Time
		}
		if b.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return s + " " + b.GoVersion + " " + b.Platform
}

func printVersion(w io.Writer, asJSON bool) error {
	b := readBuildInfo()
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(b)
	}
	_, err := fmt.Fprintln(w, b)
	return err
}

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit it was built from and the Go version",
		Long: `Print the version, the commit it was built from (with its time, and "modified" when
the tree had uncommitted changes) and the Go version and platform. --json prints
{"version", "revision", "time", "modified", "go_version", "platform"}.
jetwebhooks --version prints the same line.`,
		Example: `  jetwebhooks version
  jetwebhooks version --json | jq -r .revision`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printVersion(cmd.OutOrStdout(), asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// addVersionFlag gives the root command --version, printing what
// `jetwebhooks version` prints. cobra's own --version (root.Version) would
// need the version string at construction and prints its own template.
func addVersionFlag(root *cobra.Command) {
	var show bool
	root.Flags().BoolVar(&show, "version", false, "print the version and exit (as jetwebhooks version)")
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if show {
			return printVersion(cmd.OutOrStdout(), false)
		}
		return cmd.Help()
	}
}
