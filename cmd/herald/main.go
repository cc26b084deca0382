// Command herald runs the Herald real-time messaging server and its tools.
//
//	herald serve   run a node
//	herald token   mint a development token
//	herald bench   measure a node or a cluster (idle, fanout, chat, reconnect)
package main

import (
	"fmt"
	"os"

	"github.com/alecthomas/kong"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type cli struct {
	Serve   serveCmd         `cmd:"" help:"Run a Herald node."`
	Token   tokenCmd         `cmd:"" help:"Mint a token for development and tests."`
	Bench   benchCmd         `cmd:"" help:"Measure a node or a cluster: idle connections, fan-out, chat rooms, reconnects."`
	Version kong.VersionFlag `help:"Print the version and exit."`
}

func main() {
	var c cli
	parser, err := newParser(&c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "herald:", err)
		os.Exit(2)
	}
	ctx, err := parser.Parse(os.Args[1:])
	parser.FatalIfErrorf(err)
	if err := ctx.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "herald:", err)
		os.Exit(1)
	}
}

// newParser builds the command line parser; tests use it to check flags,
// environment and config file precedence.
func newParser(c *cli, opts ...kong.Option) (*kong.Kong, error) {
	return kong.New(c, append([]kong.Option{
		kong.Name("herald"),
		kong.Description("Herald: real-time messaging that never loses or duplicates a message."),
		kong.UsageOnError(),
		kong.DefaultEnvars("HERALD"),
		kong.Configuration(yamlConfig),
		kong.Vars{"version": version},
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	}, opts...)...)
}
