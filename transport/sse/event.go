package sse

import "bytes"

// appendEvent appends one SSE event carrying data. SSE ends a data line at
// CR, LF or CRLF, and JSON may hold those only as whitespace between
// tokens (inside strings they are escaped), so a frame with line breaks
// becomes several data lines, which the client joins with LF: the same
// JSON value.
func appendEvent(b []byte, event string, data []byte) []byte {
	if event != "" {
		b = append(b, "event: "...)
		b = append(b, event...)
		b = append(b, '\n')
	}
	for {
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			break
		}
		b = append(b, "data: "...)
		b = append(b, data[:i]...)
		b = append(b, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	b = append(b, "data: "...)
	b = append(b, data...)
	return append(b, '\n', '\n')
}

// messageEvent frames one protocol frame: an event without a name, which
// EventSource delivers as "message".
func messageEvent(json []byte) []byte { return appendEvent(nil, "", json) }

// splitFrames calls fn with each frame of a POST body: the frames are
// separated by line breaks (newline-delimited JSON); blank lines are
// skipped. It stops at the first frame fn refuses.
func splitFrames(body []byte, fn func(frame []byte) bool) {
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if !fn(line) {
			return
		}
	}
}
