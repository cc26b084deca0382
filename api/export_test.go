package api

// Routes returns the method and path of every route the handler serves,
// for the test that compares them with the OpenAPI document.
func Routes() [][2]string {
	out := make([][2]string, len(routes))
	for i, rt := range routes {
		out[i] = [2]string{rt.method, rt.path}
	}
	return out
}
