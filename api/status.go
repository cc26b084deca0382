package api

import "net/http"

// StatusResponse is a user's status: online on Devices connections (on
// every node), or offline since LastSeen.
type StatusResponse struct {
	UserID  string `json:"userId"`
	Online  bool   `json:"online"`
	Devices int    `json:"devices"`
	// LastSeen is when the user's last connection ended, ms since the
	// epoch; absent while online or for a user never seen.
	LastSeen int64 `json:"lastSeen,omitempty"`
}

// status serves GET /api/status.
func (a *handler) status(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r.URL.RawQuery, "user")
	if err != nil {
		return err
	}
	st, err := a.hub.UserStatus(r.Context(), q.str("user"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, StatusResponse{UserID: st.UserID, Online: st.Online, Devices: st.Devices, LastSeen: st.LastSeen})
	return nil
}
