package api_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/heraldrt/herald/internal/testserver"
)

// TestMain checks for leaked goroutines, and, when every test ran (no
// -run or -skip filter), that the tests exercised every operation of the
// OpenAPI document: a documented operation that no test calls is one
// whose document nobody checked.
func TestMain(m *testing.M) {
	code := m.Run()
	ranAll := flag.Lookup("test.run").Value.String() == "" && flag.Lookup("test.skip").Value.String() == ""
	if code == 0 && ranAll {
		if missing := unexercised(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: operations of the OpenAPI document that no test exercised: %v\n", missing)
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(testserver.LeakOptions()...); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
