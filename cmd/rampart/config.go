package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-go/rampart/config"
)

// newConfigCmd returns "rampart config" and its subcommands.
func newConfigCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check a service's configuration file",
		Long: `Work with the configuration files of services built with Rampart: one YAML file
plus RAMPART_ environment variables, described in docs/configuration.md.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			hint := ""
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				hint = " (did you mean " + strings.Join(s, ", ") + "?)"
			}
			return fmt.Errorf("unknown command %q for %q%s\nRun '%s --help' for the commands", args[0], cmd.CommandPath(), hint, cmd.CommandPath())
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.SuggestionsMinimumDistance = 2
	cmd.AddCommand(newConfigCheckCmd(stdout, stderr))
	return cmd
}

func newConfigCheckCmd(stdout, stderr io.Writer) *cobra.Command {
	var env bool
	cmd := &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a configuration file and print the effective configuration",
		Long: `Validate a configuration file, overridden by the RAMPART_ environment variables
as the service would see it, and print the effective configuration as YAML: every
setting, with the defaults filled in. Secrets are never printed: they show as the
variable or the file they come from, or [REDACTED].

Every problem is listed on stderr, one per line, with the file's line or the
environment variable that set the value:

  config.yaml:14: clients.payments.retry.max_attempts: must be ≥ 1, got 0

and the command then exits with status 1. Warnings (a secret written in the file)
go to stderr and do not fail the check.`,
		Example: `  rampart config check config.yaml
  RAMPART_CLIENTS__PAYMENTS__RETRY__MAX_ATTEMPTS=5 rampart config check config.yaml
  rampart config check --env=false config.yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%s takes one FILE, got %d arguments\nRun '%s --help' for the flags", cmd.CommandPath(), len(args), cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			cfg, err := config.LoadOptions{IgnoreEnv: !env}.Load(path)
			if err != nil {
				problems := config.FieldErrors(err)
				if len(problems) == 0 {
					return err // the file cannot be read
				}
				for _, p := range problems {
					fmt.Fprintln(stderr, p)
				}
				noun := "problems"
				if len(problems) == 1 {
					noun = "problem"
				}
				return fmt.Errorf("config check: %s: %d %s", path, len(problems), noun)
			}
			for _, w := range cfg.Warnings() {
				fmt.Fprintln(stderr, "warning:", w)
			}
			src := "the file and the environment"
			if !env {
				src = "the file alone"
			}
			fmt.Fprintf(stdout, "# %s is valid. The effective configuration from %s,\n# with the defaults filled in and the secrets redacted:\n", path, src)
			return cfg.WriteYAML(stdout)
		},
	}
	cmd.Flags().BoolVar(&env, "env", true, "apply the RAMPART_ environment overrides and check the secrets read from the environment (--env=false checks the file alone)")
	return cmd
}
