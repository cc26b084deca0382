package herald_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/heraldrt/herald"

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Standard   bool
}

// listPackages runs go list over the module's non-test code.
func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-json", "./...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return pkgs
}

func isStd(path string) bool { return !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") }

func local(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

// TestImportRules keeps the tree's architecture (STYLE.md): imports point
// down, drivers stay behind the Broker interface, and the SDK carries no
// server code.
func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for path, p := range pkgs {
		name := local(path)
		for _, imp := range p.Imports {
			in := local(imp)
			ours := strings.HasPrefix(imp, module)
			switch {
			case (name == "" || name == "protocol") && !isStd(imp) && in != "protocol":
				t.Errorf("%s must import only the standard library (and protocol), imports %s", path, imp)
			case strings.HasPrefix(name, "broker/") && ours && (in == "hub" || strings.HasPrefix(in, "transport") || in == "api" || in == "metrics" || strings.HasPrefix(in, "cmd")):
				t.Errorf("broker %s imports %s: brokers sit below the hub", path, imp)
			case (name == "hub" || strings.HasPrefix(name, "transport/") || name == "api") && ours && strings.HasPrefix(in, "broker/"):
				t.Errorf("%s imports the concrete broker %s: only cmd names brokers", path, imp)
			case name == "hub" && ours && (strings.HasPrefix(in, "transport") || in == "metrics" || in == "auth" || strings.HasPrefix(in, "cmd")):
				t.Errorf("hub imports %s, which sits above it", imp)
			case name != "metrics" && strings.HasPrefix(imp, "github.com/prometheus/"):
				t.Errorf("%s imports %s: only metrics imports the Prometheus client", path, imp)
			}
		}
	}
	if _, ok := pkgs[module+"/protocol"]; !ok {
		t.Fatal("protocol package not found")
	}
}

// TestSDKDependencies: the Go SDK pulls in no server, Redis, NATS or
// Prometheus code, transitively.
func TestSDKDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./client/heraldclient").Output()
	if err != nil {
		t.Fatalf("go list the SDK: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if isStd(dep) || dep == module+"/client/heraldclient" || dep == module+"/protocol" {
			continue
		}
		if strings.HasPrefix(dep, module) {
			t.Errorf("the SDK depends on server package %s", dep)
		}
		for _, banned := range []string{"redis", "nats", "prometheus", "pebble", "nbio"} {
			if strings.Contains(dep, banned) {
				t.Errorf("the SDK depends on %s", dep)
			}
		}
	}
}
