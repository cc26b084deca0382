package api_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/heraldrt/herald/api"
)

// TestKeys: what Valid accepts after NewKeys and Replace.
func TestKeys(t *testing.T) {
	tests := []struct {
		name   string
		keys   []string
		valid  []string
		reject []string
		len    int
	}{
		{"none", nil, nil, []string{"", "a"}, 0},
		{"one", []string{"k1"}, []string{"k1"}, []string{"", "k", "k1 ", "K1", "k10"}, 1},
		{"several", []string{"k1", "k2", "k3"}, []string{"k1", "k2", "k3"}, []string{"k4"}, 3},
		{"empty keys are ignored", []string{"", "  ", "k1"}, []string{"k1"}, []string{"", " "}, 1},
		{"whitespace is trimmed", []string{"\tk1\n"}, []string{"k1"}, []string{"\tk1\n"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []*api.Keys{api.NewKeys(tt.keys...), replaced(tt.keys)} {
				if k.Len() != tt.len {
					t.Errorf("Len %d, want %d", k.Len(), tt.len)
				}
				for _, key := range tt.valid {
					if !k.Valid(key) {
						t.Errorf("%q refused", key)
					}
				}
				for _, key := range tt.reject {
					if k.Valid(key) {
						t.Errorf("%q accepted", key)
					}
				}
			}
		})
	}
	var zero api.Keys
	if zero.Valid("") || zero.Valid("k") || zero.Len() != 0 {
		t.Error("the zero Keys accepts a key")
	}
}

func replaced(keys []string) *api.Keys {
	k := new(api.Keys)
	k.Replace([]string{"previous"})
	k.Replace(keys)
	return k
}

// TestKeysConcurrent: Replace and Valid from many goroutines (run with
// -race); a key in every set is never refused meanwhile.
func TestKeysConcurrent(t *testing.T) {
	k := api.NewKeys("stable")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 500 {
				k.Replace([]string{"stable", fmt.Sprintf("rotating-%d-%d", g, i)})
			}
		}()
		go func() {
			defer wg.Done()
			for range 500 {
				if !k.Valid("stable") {
					t.Error("a key present in every set was refused")
					return
				}
			}
		}()
	}
	wg.Wait()
}
