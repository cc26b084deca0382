package protocol

import (
	"strings"
	"testing"
)

func TestValidChannel(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"simple", "chat", true},
		{"dotted", "chat.123", true},
		{"user inbox", "user.auth0|5f2a@example.com", true},
		{"punctuation", "a-b_c:d=e+f~g", true},
		{"empty", "", false},
		{"leading dot", ".chat", false},
		{"trailing dot", "chat.", false},
		{"double dot", "chat..1", false},
		{"star", "chat.*", false},
		{"tail", "chat.>", false},
		{"space", "chat 1", false},
		{"quote", `chat."1"`, false},
		{"backslash", `chat\1`, false},
		{"brace", "chat.{1}", false},
		{"nul", "chat\x00", false},
		{"non-ascii", "chät", false},
		{"max length", strings.Repeat("a", MaxChannelLen), true},
		{"too long", strings.Repeat("a", MaxChannelLen+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidChannel(tt.in); got != tt.want {
				t.Errorf("ValidChannel(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestNamespace(t *testing.T) {
	for in, want := range map[string]string{"chat.1": "chat", "chat": "chat", "a.b.c": "a"} {
		if got := Namespace(in); got != want {
			t.Errorf("Namespace(%q) = %q, want %q", in, got, want)
		}
	}
}
