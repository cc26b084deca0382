package ws_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldrt/herald/internal/protocoltest"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/internal/wstest"
	"github.com/heraldrt/herald/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testserver.LeakOptions()...) }

type wsConn struct{ *wstest.Client }

func (c wsConn) Next(d time.Duration) (protocol.Frame, error) { return c.Client.Next(d) }

// TestProtocol runs the transport-independent protocol suite over
// WebSocket.
func TestProtocol(t *testing.T) {
	protocoltest.Run(t, protocoltest.Transport{
		Name: "websocket",
		Dial: func(t testing.TB, srv *testserver.Server) protocoltest.Conn {
			return wsConn{wstest.Dial(t, srv.URL)}
		},
		CloseCode:  wstest.CloseCode,
		SendBinary: func(c protocoltest.Conn, b []byte) { c.(wsConn).SendBinary(b) },
	})
}
