package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// secretFlags are the flags that carry a secret, with the environment
// variable each command also reads it from. A value given on the command line
// is visible to every user of the machine (ps, /proc/PID/cmdline), so each is
// also accepted from a file:
//
//   - the environment variable itself (JETWEBHOOKS_API_KEY=…);
//   - --NAME-file PATH, or --NAME-file - to read stdin;
//   - the environment variable with _FILE appended, naming a file (Docker
//     and Kubernetes secrets: JETWEBHOOKS_API_KEY_FILE=/run/secrets/key).
//
// A file's content is the secret, with surrounding whitespace (its final
// newline) removed.
var secretFlags = map[string]string{
	"api-key":              "JETWEBHOOKS_API_KEY",
	"ingest-token":         "JETWEBHOOKS_INGEST_TOKEN",
	"secret-key":           "JETWEBHOOKS_SECRET_KEY",
	"previous-secret-keys": "JETWEBHOOKS_PREVIOUS_SECRET_KEYS",
	"secret":               "JETWEBHOOKS_WEBHOOK_SECRET",
}

// maxSecretFile bounds a secret file: a key is a few dozen bytes.
const maxSecretFile = 64 << 10

// addSecretFileFlags gives every command of the tree that has a secret flag
// its --NAME-file twin, says in the flag's help how to keep it off the
// command line, and reads the files before any command runs.
func addSecretFileFlags(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, set := range []*pflag.FlagSet{c.LocalNonPersistentFlags(), c.PersistentFlags()} {
			set.VisitAll(func(f *pflag.Flag) {
				env, ok := secretFlags[f.Name]
				if !ok || set.Lookup(f.Name+"-file") != nil {
					return
				}
				target := c.Flags()
				if set == c.PersistentFlags() {
					target = c.PersistentFlags()
				}
				target.String(f.Name+"-file", "", fmt.Sprintf("read --%s from this file (- for stdin); or set %s, or %s_FILE to a file", f.Name, env, env))
				f.Usage += fmt.Sprintf("; prefer %s or --%s-file: a value given here is visible to other users in ps", env, f.Name)
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	prev := root.PersistentPreRunE
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if err := readSecretFiles(cmd, cmd.InOrStdin()); err != nil {
			return err
		}
		if prev != nil {
			return prev(cmd, args)
		}
		return nil
	}
}

// readSecretFiles sets each secret flag of cmd from --NAME-file or
// $ENV_FILE. Giving a secret twice (the flag and its file, or $ENV and
// $ENV_FILE) is a usage error rather than a silent choice, and only one
// input may be stdin.
func readSecretFiles(cmd *cobra.Command, stdin io.Reader) error {
	stdinUsedBy := ""
	if changed(cmd, "data-file") && cmd.Flags().Lookup("data-file").Value.String() == "-" {
		stdinUsedBy = "--data-file"
	}
	if changed(cmd, "headers-file") && cmd.Flags().Lookup("headers-file").Value.String() == "-" {
		stdinUsedBy = "--headers-file"
	}
	for name, env := range secretFlags {
		f := cmd.Flags().Lookup(name)
		if f == nil {
			continue
		}
		path, from := "", ""
		if changed(cmd, name+"-file") {
			if f.Changed {
				return usagef("--%s and --%s-file: give the secret once", name, name)
			}
			path, from = cmd.Flags().Lookup(name+"-file").Value.String(), "--"+name+"-file"
		} else if p, ok := os.LookupEnv(env + "_FILE"); ok && !f.Changed {
			if _, both := os.LookupEnv(env); both {
				return usagef("%s and %s_FILE are both set: give the secret once", env, env)
			}
			path, from = p, env+"_FILE"
		}
		if from == "" {
			continue
		}
		var r io.Reader
		if path == "-" {
			if stdinUsedBy != "" {
				return usagef("%s and %s both read stdin: only one can", stdinUsedBy, from)
			}
			stdinUsedBy = from
			r = stdin
		} else {
			file, err := os.Open(path)
			if err != nil {
				return usagef("%s: %v", from, err)
			}
			defer file.Close()
			r = file
		}
		b, err := io.ReadAll(io.LimitReader(r, maxSecretFile+1))
		if err != nil {
			return fmt.Errorf("%s: read: %w", from, err)
		}
		if len(b) > maxSecretFile {
			return usagef("%s: larger than %d bytes: not a secret file", from, maxSecretFile)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return usagef("%s: %s is empty", from, displayPath(path))
		}
		if err := f.Value.Set(v); err != nil {
			return usagef("%s: %v", from, err)
		}
		f.Changed = true
	}
	return nil
}

func displayPath(p string) string {
	if p == "-" {
		return "stdin"
	}
	return p
}
