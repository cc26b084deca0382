package heraldclient

import (
	"context"
	"time"

	"github.com/heraldrt/herald/protocol"
)

// UserStatus is a user's status: online on Devices connections, or
// offline since LastSeen (zero if never seen).
type UserStatus struct {
	UserID   string
	Online   bool
	Devices  int
	LastSeen time.Time
}

// WatchUser subscribes to user's status channel, status.<user>; the
// token must grant it (one's own needs no grant). Read the status with
// Subscription.UserStatus and its changes from StatusEvents.
func (c *Client) WatchUser(ctx context.Context, user string) (*Subscription, error) {
	return c.Subscribe(ctx, "status."+user, SubscribeOptions{})
}

// UserStatus returns the status last heard on a status channel, and
// false before the first or on other channels.
func (s *Subscription) UserStatus() (UserStatus, bool) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if s.userStatus == nil {
		return UserStatus{}, false
	}
	return *s.userStatus, true
}

// StatusEvents returns the changes of a status channel's user status,
// the first one included. If the app does not take them, the oldest are
// dropped; UserStatus stays exact.
func (s *Subscription) StatusEvents() <-chan UserStatus { return s.statusCh }

// handleUserStatus records a user_status; c.mu must be held.
func (c *Client) handleUserStatus(f *protocol.Frame) {
	sub := c.subs[f.Channel]
	if sub == nil || !sub.live {
		return
	}
	st := UserStatus{UserID: f.UserID, Online: f.Online, Devices: f.Devices}
	if f.LastSeen > 0 {
		st.LastSeen = time.UnixMilli(f.LastSeen)
	}
	sub.userStatus = &st
	sendLatest(sub.statusCh, st)
}
