package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/alecthomas/kong"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/protocol"
)

// namespacesFlag is the --namespaces setting: a JSON object (or, in the
// config file, a YAML mapping) from namespace name to its policy, with
// "default" for the namespaces not named:
//
//	namespaces:
//	  default: {publish_rate: 20}
//	  chat:    {max_message_size: 4096}
//	  typing:  {history: false}
//	  news:    {client_publish: false, retention_age: 720h}
type namespacesFlag struct {
	hub.Namespaces
}

// namespaceJSON is one namespace as written in configuration; absent
// fields keep the defaults.
type namespaceJSON struct {
	History         *bool   `json:"history"`
	RetentionAge    string  `json:"retention_age"`
	RetentionCount  uint64  `json:"retention_count"`
	ClientPublish   *bool   `json:"client_publish"`
	Presence        *bool   `json:"presence"`
	Typing          *bool   `json:"typing"`
	MaxMessageSize  int     `json:"max_message_size"`
	PublishRate     float64 `json:"publish_rate"`
	PublishBurst    int     `json:"publish_burst"`
	SubscribeHook   bool    `json:"subscribe_hook"`
	PublishHook     bool    `json:"publish_hook"`
	UnsubscribeHook bool    `json:"unsubscribe_hook"`
}

// Decode implements kong.MapperValue.
func (n *namespacesFlag) Decode(ctx *kong.DecodeContext) error {
	var raw string
	if err := ctx.Scan.PopValueInto("namespaces", &raw); err != nil {
		return err
	}
	return n.parse([]byte(raw))
}

func (n *namespacesFlag) parse(b []byte) error {
	var m map[string]namespaceJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("namespaces: %w", err)
	}
	n.Named = make(map[string]hub.Namespace, len(m))
	for name, nj := range m {
		ns, err := nj.policy()
		if err != nil {
			return fmt.Errorf("namespace %q: %w", name, err)
		}
		if name == "default" {
			n.Default = ns
			continue
		}
		if !protocol.ValidChannel(name) || protocol.Namespace(name) != name {
			return fmt.Errorf("namespace %q: not a valid namespace name (one channel segment)", name)
		}
		n.Named[name] = ns
	}
	return nil
}

func (nj namespaceJSON) policy() (hub.Namespace, error) {
	ns := hub.Namespace{
		NoHistory:       nj.History != nil && !*nj.History,
		RetentionCount:  nj.RetentionCount,
		BackendOnly:     nj.ClientPublish != nil && !*nj.ClientPublish,
		NoPresence:      nj.Presence != nil && !*nj.Presence,
		NoTyping:        nj.Typing != nil && !*nj.Typing,
		MaxMessageSize:  nj.MaxMessageSize,
		PublishRate:     nj.PublishRate,
		PublishBurst:    nj.PublishBurst,
		SubscribeHook:   nj.SubscribeHook,
		PublishHook:     nj.PublishHook,
		UnsubscribeHook: nj.UnsubscribeHook,
	}
	if nj.RetentionAge != "" {
		d, err := time.ParseDuration(nj.RetentionAge)
		if err != nil || d <= 0 {
			return ns, fmt.Errorf("retention_age %q is not a positive duration", nj.RetentionAge)
		}
		ns.RetentionAge = d
	}
	if nj.MaxMessageSize < 0 || nj.PublishRate < 0 || nj.PublishBurst < 0 {
		return ns, fmt.Errorf("limits must not be negative")
	}
	return ns, nil
}
