package bench

import (
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// PinProcess restricts every thread of this process to core cpu and sets
// GOMAXPROCS to 1, as `taskset -c cpu` would have done at start. Threads
// inherit their creator's affinity, so once every current thread is
// pinned, later ones are too; the loop repeats in case a thread was being
// created meanwhile.
func PinProcess(cpu int) error {
	if cpu < 0 || cpu >= runtime.NumCPU() {
		return fmt.Errorf("bench: cannot pin to core %d of %d", cpu, runtime.NumCPU())
	}
	var set unix.CPUSet
	set.Set(cpu)
	for range 5 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("bench: list threads: %w", err)
		}
		changed := false
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			var cur unix.CPUSet
			if err := unix.SchedGetaffinity(tid, &cur); err == nil && cur == set {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil {
				if err == unix.ESRCH { // the thread ended meanwhile
					continue
				}
				return fmt.Errorf("bench: pin thread %d to core %d: %w", tid, cpu, err)
			}
			changed = true
		}
		if !changed {
			break
		}
	}
	runtime.GOMAXPROCS(1)
	return nil
}
