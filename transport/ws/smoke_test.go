package ws_test

import (
	"testing"

	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/internal/wstest"
	"github.com/heraldrt/herald/protocol"
)

func TestSmoke(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	a := wstest.Auth(t, srv.URL, testserver.Token(t, "alice", "chat.>"))
	a.Send(map[string]any{"type": "subscribe", "channel": "chat.1", "id": "s1"})
	f := a.Expect(protocol.TypeSubscribed)
	t.Logf("%+v", f)
	a.Send(map[string]any{"type": "publish", "channel": "chat.1", "id": "p1", "event": "message.new", "payload": map[string]any{"text": "hi"}})
	for i := 0; i < 2; i++ {
		t.Logf("%+v", a.Read())
	}
}
