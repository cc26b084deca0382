// Package nbiowarm works around a start-up race in nbio v1.6.8: a poller
// clears its shutdown flag when its event loop starts, so an engine
// stopped before every loop has started never stops (the poller spins on
// its wake-up event and Engine.Stop waits for it forever). WarmUp returns
// once every poller has run its loop, after which Stop is safe.
package nbiowarm

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/lesismal/nbio"
)

// WarmUp sends one byte through a loopback connection on each of the
// engine's pollers and returns once each has read it. pollers is the
// engine's poller count.
func WarmUp(e *nbio.Engine, pollers int) error {
	if pollers <= 0 {
		pollers = 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("warm up the event loop: %w", err)
	}
	defer ln.Close()
	seen := make(map[int]bool)
	for try := 0; len(seen) < pollers; try++ {
		if try == 8*pollers {
			return fmt.Errorf("warm up the event loop: reached %d of %d pollers", len(seen), pollers)
		}
		if err := warmOne(e, ln, pollers, seen); err != nil {
			return fmt.Errorf("warm up the event loop: %w", err)
		}
	}
	return nil
}

// warmOne sends one byte through a new connection on the event loop and
// records which poller read it.
func warmOne(e *nbio.Engine, ln net.Listener, pollers int, seen map[int]bool) error {
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		return err
	}
	nbc, err := nbio.NBConn(server) // a duplicate of server's socket
	_ = server.Close()
	if err != nil {
		return err
	}
	got := make(chan struct{}, 1)
	nbc.OnData(func(*nbio.Conn, []byte) {
		select {
		case got <- struct{}{}:
		default:
		}
	})
	if _, err := e.AddConn(nbc); err != nil {
		_ = nbc.Close()
		return err
	}
	defer nbc.Close()
	if _, err := client.Write([]byte{0}); err != nil {
		return err
	}
	select {
	case <-got:
		seen[nbc.Hash()%pollers] = true
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("the event loop did not read within 5s")
	}
}
