package loadgen_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/heraldrt/herald/internal/testserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testserver.LeakOptions()...) }
