package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/ppsync/ppsync/internal/cli"
	"github.com/ppsync/ppsync/internal/config"
	"github.com/ppsync/ppsync/internal/daemon"
	"github.com/ppsync/ppsync/internal/service"
)

func (m *Main) runDaemon(ctx context.Context, args []string) error {
	fs := m.flags("run", "run -c FILE [--once]")
	cfgPath := fs.String("c", "", "config file (required)")
	fs.StringVar(cfgPath, "config", "", "config file (same as -c)")
	once := fs.Bool("once", false, "process what is in the inboxes now, wait for every result, then exit (0 all done, 1 some failed, 2 could not run)")
	asService := fs.Bool("service", false, "Windows: run under the Service Control Manager (the command line 'ppsync install' writes has it)")
	instance := fs.String("name", "", "with --service: the service instance 'ppsync install --name' made (its log folder and Event Log source)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	path, err := m.configOrDefault(fs, *cfgPath)
	if err != nil {
		return err
	}
	c := daemon.Command{Path: path, Once: *once, Log: m.Stderr, Getenv: m.Getenv, Reload: m.Reload}
	if runtime.GOOS == "windows" && (*asService || service.UnderServiceManager()) {
		c.Service = func(cfg *config.Config, key string) error { return m.runService(cfg, key, *instance) }
	}
	sum, err := daemon.RunCommand(ctx, c)
	if logged := (*daemon.LoggedError)(nil); errors.As(err, &logged) {
		return &cli.ExitError{Code: cli.ExitCantRun}
	}
	if err != nil || !*once {
		return err
	}
	fmt.Fprintf(m.Stdout, "%d done, %d failed, %d refused before upload, %d waiting, %d deleted\n",
		sum.Done, sum.Failed, sum.Invalid, sum.Waiting, sum.Gone)
	if !sum.OK() {
		for _, p := range sum.Problems {
			fmt.Fprintln(m.Stdout, "  "+p)
		}
		// A line names a file, or an inbox whose files were left out (it
		// could not be read, or its results could not be written).
		return cli.Failed(errors.New(cli.Plural(len(sum.Problems), "problem") +
			" above: files that did not get a result, or inboxes whose files the next run takes; each line, and a file's .error.json, says why"))
	}
	return nil
}
