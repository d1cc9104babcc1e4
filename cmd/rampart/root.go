package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newRootCmd returns the rampart command, writing to stdout and stderr.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "rampart",
		Short: "Rampart's command-line tool",
		Long: `Rampart keeps a Go service working when the services it calls do not.

This tool shows it at work ("rampart demo") and serves a misbehaving upstream
to test against ("rampart sim").`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nRun '%s --help' for the flags", err, c.CommandPath())
	})
	root.AddCommand(newDemoCmd(stdout), newSimCmd(stderr), newConfigCmd(stdout, stderr), newDlqCmd(stdout, stderr))
	return root
}

// flagError is the error of a flag whose value is wrong; it says how to get help.
func flagError(cmd *cobra.Command, flag string, format string, args ...any) error {
	return fmt.Errorf("--%s: %s\nRun '%s --help' for the flags", flag, fmt.Sprintf(format, args...), cmd.CommandPath())
}

// changed reports whether the flag was given on the command line.
func changed(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && f.Changed
}

// noArgs accepts no positional arguments, saying where to find the flags.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q: %s takes flags only\nRun '%s --help' for the flags", args[0], cmd.CommandPath(), cmd.CommandPath())
	}
	return nil
}
