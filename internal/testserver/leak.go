package testserver

import "go.uber.org/goleak"

// LeakOptions are the goleak options for packages that run a node: nbio's
// websocket package starts a worker pool for its default engine when it
// is initialized, and that pool lives as long as the process.
func LeakOptions() []goleak.Option {
	return []goleak.Option{goleak.IgnoreTopFunction("github.com/lesismal/nbio/taskpool.New.func3")}
}
