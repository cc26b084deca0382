package protocol

// ValidPattern reports whether p is a valid channel pattern: a channel
// name whose segments may also be "*" (exactly one segment) and whose last
// segment may be ">" (one or more segments).
func ValidPattern(p string) bool {
	if len(p) == 0 || len(p) > MaxChannelLen {
		return false
	}
	for {
		seg, rest, more := nextSegment(p)
		switch {
		case seg == "*":
		case seg == ">":
			if more {
				return false
			}
		case !ValidChannel(seg):
			return false
		}
		if !more {
			return true
		}
		p = rest
	}
}

// MatchPattern reports whether channel matches pattern: "*" matches
// exactly one segment and a final ">" matches one or more, so "chat.*"
// matches "chat.1" but not "chat.1.2", and "chat.>" matches both but not
// "chat".
func MatchPattern(pattern, channel string) bool {
	for {
		pseg, prest, pmore := nextSegment(pattern)
		cseg, crest, cmore := nextSegment(channel)
		if cseg == "" {
			return false
		}
		switch pseg {
		case ">":
			return !pmore
		case "*":
		default:
			if pseg != cseg {
				return false
			}
		}
		if !pmore || !cmore {
			return !pmore && !cmore
		}
		pattern, channel = prest, crest
	}
}

// MatchAny reports whether channel matches any of the patterns.
func MatchAny(patterns []string, channel string) bool {
	for _, p := range patterns {
		if MatchPattern(p, channel) {
			return true
		}
	}
	return false
}

// nextSegment splits s at its first dot; more reports whether there was
// one.
func nextSegment(s string) (seg, rest string, more bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
