package main

import (
	"testing"
	"time"

	"github.com/heraldrt/herald/hub"
)

func TestNamespacesFlag(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    hub.Namespaces
		wantErr bool
	}{
		{"empty", `{}`, hub.Namespaces{Named: map[string]hub.Namespace{}}, false},
		{"every field", `{"default":{"publish_rate":20},"chat":{"history":false,"retention_age":"1h","retention_count":5,"client_publish":false,"presence":false,"typing":false,"max_message_size":4096,"publish_rate":2,"publish_burst":4,"subscribe_hook":true,"publish_hook":true}}`,
			hub.Namespaces{Default: hub.Namespace{PublishRate: 20}, Named: map[string]hub.Namespace{"chat": {
				NoHistory: true, RetentionAge: time.Hour, RetentionCount: 5, BackendOnly: true, NoPresence: true, NoTyping: true,
				MaxMessageSize: 4096, PublishRate: 2, PublishBurst: 4, SubscribeHook: true, PublishHook: true,
			}}}, false},
		{"explicit defaults", `{"chat":{"history":true,"client_publish":true}}`, hub.Namespaces{Named: map[string]hub.Namespace{"chat": {}}}, false},
		{"unknown field", `{"chat":{"histroy":false}}`, hub.Namespaces{}, true},
		{"bad duration", `{"chat":{"retention_age":"soon"}}`, hub.Namespaces{}, true},
		{"dotted name", `{"chat.room":{}}`, hub.Namespaces{}, true},
		{"negative limit", `{"chat":{"publish_rate":-1}}`, hub.Namespaces{}, true},
		{"not an object", `[1]`, hub.Namespaces{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n namespacesFlag
			err := n.parse([]byte(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parse(%s) accepted", tt.in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.Default != tt.want.Default || len(n.Named) != len(tt.want.Named) {
				t.Fatalf("got %+v, want %+v", n.Namespaces, tt.want)
			}
			for k, v := range tt.want.Named {
				if n.Named[k] != v {
					t.Errorf("%s: got %+v, want %+v", k, n.Named[k], v)
				}
			}
		})
	}
}
