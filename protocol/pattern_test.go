package protocol

import "testing"

func TestMatchPattern(t *testing.T) {
	tests := []struct {
		pattern, channel string
		want             bool
	}{
		{"chat.123", "chat.123", true},
		{"chat.123", "chat.1234", false},
		{"chat.123", "chat", false},
		{"chat.*", "chat.1", true},
		{"chat.*", "chat.1.2", false},
		{"chat.*", "chat", false},
		{"chat.*.typing", "chat.7.typing", true},
		{"chat.*.typing", "chat.7.read", false},
		{"chat.>", "chat.1", true},
		{"chat.>", "chat.1.2.3", true},
		{"chat.>", "chat", false},
		{"chat.>", "chatroom.1", false},
		{">", "anything.at.all", true},
		{"*", "one", true},
		{"*", "one.two", false},
		{"*.>", "a.b", true},
		{"*.>", "a", false},
		{"chat", "chat.1", false},
		{"chat", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"~"+tt.channel, func(t *testing.T) {
			if got := MatchPattern(tt.pattern, tt.channel); got != tt.want {
				t.Errorf("MatchPattern(%q, %q) = %v, want %v", tt.pattern, tt.channel, got, tt.want)
			}
		})
	}
}

func TestValidPattern(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"chat.>", true},
		{"chat.*", true},
		{"*.*", true},
		{">", true},
		{"user.alice", true},
		{"chat.>.x", false},
		{"chat.**", false},
		{"chat.a*", false},
		{"chat..x", false},
		{"", false},
		{"chat.", false},
	}
	for _, tt := range tests {
		if got := ValidPattern(tt.in); got != tt.want {
			t.Errorf("ValidPattern(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzMatchPattern(f *testing.F) {
	f.Add("chat.>", "chat.1.2")
	f.Add("a.*.c", "a.b.c")
	f.Fuzz(func(t *testing.T, pattern, channel string) {
		got := MatchPattern(pattern, channel)
		// A valid channel used as a pattern matches exactly itself.
		if ValidChannel(pattern) && ValidChannel(channel) && got != (pattern == channel) {
			t.Fatalf("MatchPattern(%q, %q) = %v", pattern, channel, got)
		}
		if got && !ValidPattern(pattern) && ValidChannel(channel) && pattern != channel {
			// An invalid pattern may only match by literal equality.
			t.Fatalf("invalid pattern %q matched %q", pattern, channel)
		}
	})
}
