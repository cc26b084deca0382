package bench

import (
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress shows how far a scenario is. Methods may be called from any
// goroutine.
type Progress interface {
	// Phase starts a new phase counting up to total.
	Phase(name string, total int64)
	// Set sets the current phase's count.
	Set(n int64)
	// Describe changes the current phase's description.
	Describe(name string)
	// Done ends the current phase.
	Done()
}

// NoProgress shows nothing.
type NoProgress struct{}

// Phase implements Progress.
func (NoProgress) Phase(string, int64) {}

// Set implements Progress.
func (NoProgress) Set(int64) {}

// Describe implements Progress.
func (NoProgress) Describe(string) {}

// Done implements Progress.
func (NoProgress) Done() {}

// Bar shows progress as a bar per phase on w (normally stderr).
type Bar struct {
	w   io.Writer
	mu  sync.Mutex
	bar *progressbar.ProgressBar
}

// NewBar returns a Bar writing to w.
func NewBar(w io.Writer) *Bar { return &Bar{w: w} }

// Phase implements Progress.
func (b *Bar) Phase(name string, total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.finishLocked()
	b.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(name),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionOnCompletion(func() { _, _ = io.WriteString(b.w, "\n") }),
	)
}

// Set implements Progress.
func (b *Bar) Set(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil {
		_ = b.bar.Set64(n)
	}
}

// Describe implements Progress.
func (b *Bar) Describe(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil {
		b.bar.Describe(name)
	}
}

// Done implements Progress.
func (b *Bar) Done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.finishLocked()
}

func (b *Bar) finishLocked() {
	if b.bar != nil {
		_ = b.bar.Finish()
		b.bar = nil
	}
}
