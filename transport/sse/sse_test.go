package sse_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldrt/herald/internal/protocoltest"
	"github.com/heraldrt/herald/internal/ssetest"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testserver.LeakOptions()...) }

type sseConn struct{ *ssetest.Client }

func (c sseConn) Next(d time.Duration) (protocol.Frame, error) { return c.Client.Next(d) }

// TestProtocol runs the transport-independent protocol suite over SSE.
func TestProtocol(t *testing.T) {
	protocoltest.Run(t, protocoltest.Transport{
		Name: "sse",
		Dial: func(t testing.TB, srv *testserver.Server) protocoltest.Conn {
			return sseConn{ssetest.Dial(t, srv.HTTP)}
		},
		CloseCode: ssetest.CloseCode,
	})
}
