package target

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrNoMetric is returned by Metric when the server does not export the
// metric.
var ErrNoMetric = errors.New("target: metric not exported")

// metricsClient keeps no idle connection: a scenario reads metrics now
// and then, and a kept connection would outlive the run.
var metricsClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// Metric reads one metric from the server's /metrics (Prometheus text
// format) and returns the sum of its series.
func (s *Server) Metric(ctx context.Context, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.HTTP+"/metrics", nil)
	if err != nil {
		return 0, fmt.Errorf("target: metrics: %w", err)
	}
	res, err := metricsClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("target: metrics: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("target: metrics: %s", res.Status)
	}
	return parseMetric(bufio.NewScanner(res.Body), name)
}

// parseMetric sums the samples of metric name in Prometheus text format.
func parseMetric(sc *bufio.Scanner, name string) (float64, error) {
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var (
		sum   float64
		found bool
	)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if rest[0] == '{' {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			rest = rest[end+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, fmt.Errorf("target: metric %s: %w", name, err)
		}
		sum += v
		found = true
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("target: metrics: %w", err)
	}
	if !found {
		return 0, fmt.Errorf("%w: %s", ErrNoMetric, name)
	}
	return sum, nil
}
