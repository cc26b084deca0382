package protocol

// MaxChannelLen is the longest channel name, in bytes.
const MaxChannelLen = 255

// ValidChannel reports whether name is a valid channel name: 1 to
// [MaxChannelLen] bytes of dot-separated, non-empty segments of printable
// ASCII other than the pattern characters '*' and '>', quotes, backslash
// and braces. The rule keeps names safe as Redis keys (no hash-tag braces)
// and as NATS subjects (dots separate tokens there too).
func ValidChannel(name string) bool {
	if len(name) == 0 || len(name) > MaxChannelLen {
		return false
	}
	segStart := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '.' {
			if segStart {
				return false
			}
			segStart = true
			continue
		}
		if !channelByte(c) {
			return false
		}
		segStart = false
	}
	return !segStart
}

// Namespace returns the part of a channel name before its first dot: the
// namespace of "chat.123" is "chat".
func Namespace(channel string) string {
	for i := 0; i < len(channel); i++ {
		if channel[i] == '.' {
			return channel[:i]
		}
	}
	return channel
}

func channelByte(c byte) bool {
	if c <= 0x20 || c >= 0x7f {
		return false
	}
	switch c {
	case '*', '>', '"', '\\', '{', '}':
		return false
	}
	return true
}
