package bench

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

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

// cpusOf returns the cores process pid may run on, as a list like "0",
// "1" or "0-1,3", or "" if it cannot be read.
func cpusOf(pid int) string {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(pid, &set); err != nil {
		return ""
	}
	// Not runtime.NumCPU: it counts the cores this process started with.
	var parts []string
	for cpu, left := 0, set.Count(); left > 0; cpu++ {
		if !set.IsSet(cpu) {
			continue
		}
		end := cpu
		for set.IsSet(end + 1) {
			end++
		}
		left -= end - cpu + 1
		if end == cpu {
			parts = append(parts, strconv.Itoa(cpu))
		} else {
			parts = append(parts, strconv.Itoa(cpu)+"-"+strconv.Itoa(end))
		}
		cpu = end
	}
	return strings.Join(parts, ",")
}
