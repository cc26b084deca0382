package target

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat. USER_HZ
// is 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// Sample is one reading of a process.
type Sample struct {
	At time.Time
	// RSS is the resident set size (VmRSS), in bytes.
	RSS int64
	// CPU is the user plus system CPU time used so far.
	CPU time.Duration
}

// Read samples process pid.
func Read(pid int) (Sample, error) {
	now := time.Now()
	rss, err := ReadRSS(pid)
	if err != nil {
		return Sample{}, err
	}
	cpu, err := ReadCPU(pid)
	if err != nil {
		return Sample{}, err
	}
	return Sample{At: now, RSS: rss, CPU: cpu}, nil
}

// ReadRSS returns the resident set size of process pid, in bytes.
func ReadRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	kb, err := fieldKB(b, "VmRSS:")
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	return kb << 10, nil
}

// ReadCPU returns the user plus system CPU time process pid has used.
func ReadCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read CPU time of process %d: %w", pid, err)
	}
	return parseStatCPU(b)
}

// ReadSlab returns the kernel's slab memory (system-wide), in bytes.
func ReadSlab() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("read kernel memory: %w", err)
	}
	kb, err := fieldKB(b, "Slab:")
	return kb << 10, err
}

// parseStatCPU reads utime and stime, fields 14 and 15 of a stat line.
// The command name (field 2) may hold spaces and parentheses, so fields
// are counted from the last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat line")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc stat line")
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("malformed /proc stat line: %w", err)
	}
	return time.Duration(ut+st) * clockTick, nil
}

// fieldKB finds "Name:   123 kB" in a /proc file.
func fieldKB(b []byte, name string) (int64, error) {
	for line := range bytes.Lines(b) {
		if !bytes.HasPrefix(line, []byte(name)) {
			continue
		}
		f := bytes.Fields(line[len(name):])
		if len(f) == 0 {
			break
		}
		return strconv.ParseInt(string(f[0]), 10, 64)
	}
	return 0, fmt.Errorf("no %s line", name)
}
