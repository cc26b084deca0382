package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/alecthomas/kong"
	"go.yaml.in/yaml/v3"
)

// yamlConfig is a kong.ConfigurationLoader for herald.yaml. File keys are
// the flag names with dashes as underscores (max_frame_size). A key that
// names no flag is an error, so that typos do not pass silently.
//
// Kong applies resolvers after environment variables; this resolver
// answers nothing for a flag whose environment variable is set, which
// gives the documented precedence: flag > env > file > default.
func yamlConfig(r io.Reader) (kong.Resolver, error) {
	values := map[string]any{}
	if err := yaml.NewDecoder(r).Decode(&values); err != nil && err != io.EOF {
		return nil, fmt.Errorf("config file: %w", err)
	}
	return &yamlResolver{values: values}, nil
}

type yamlResolver struct{ values map[string]any }

func fileKey(flag string) string { return strings.ReplaceAll(flag, "-", "_") }

func (y *yamlResolver) Validate(app *kong.Application) error {
	known := map[string]bool{}
	_ = kong.Visit(app, func(node kong.Visitable, next kong.Next) error {
		if f, ok := node.(*kong.Flag); ok {
			known[fileKey(f.Name)] = true
		}
		return next(nil)
	})
	for k := range y.values {
		if !known[k] {
			return fmt.Errorf("config file: unknown key %q", k)
		}
	}
	return nil
}

func (y *yamlResolver) Resolve(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
	for _, env := range flag.Envs {
		if _, set := os.LookupEnv(env); set {
			return nil, nil
		}
	}
	v, ok := y.values[fileKey(flag.Name)]
	if !ok {
		return nil, nil
	}
	switch v := v.(type) {
	case map[string]any:
		// A mapping (namespaces) reaches its flag as JSON.
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("config file key %s: %w", fileKey(flag.Name), err)
		}
		return string(b), nil
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = fmt.Sprint(p)
		}
		return strings.Join(parts, ","), nil
	default:
		return fmt.Sprint(v), nil
	}
}
