package target

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and parentheses must not shift fields.
	line := []byte("1234 (we (ird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 100 1000 200\n")
	got, err := parseStatCPU(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := 325 * clockTick; got != want {
		t.Fatalf("cpu %v, want %v", got, want)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 x y"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q) succeeded", bad)
		}
	}
}

func TestFieldKB(t *testing.T) {
	status := []byte("Name:\therald\nVmPeak:\t  200 kB\nVmRSS:\t   12345 kB\nThreads:\t5\n")
	if kb, err := fieldKB(status, "VmRSS:"); err != nil || kb != 12345 {
		t.Fatalf("fieldKB = %d, %v", kb, err)
	}
	if _, err := fieldKB(status, "VmSwap:"); err == nil {
		t.Fatal("found a missing field")
	}
}

func TestReadSelf(t *testing.T) {
	s, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS < 1<<20 || s.CPU < 0 || s.At.IsZero() {
		t.Fatalf("implausible sample %+v", s)
	}
	if slab, err := ReadSlab(); err != nil || slab <= 0 {
		t.Fatalf("ReadSlab = %d, %v", slab, err)
	}
	if _, err := Read(1 << 30); err == nil {
		t.Fatal("read a process that does not exist")
	}
}

func TestAttach(t *testing.T) {
	if _, err := Attach("http://x/ws", 0, []byte("k")); err == nil {
		t.Error("accepted an http url")
	}
	if _, err := Attach("ws://127.0.0.1:1/ws", 0, nil); err == nil {
		t.Error("accepted no secret")
	}
	s, err := Attach("ws://127.0.0.1:1/ws", os.Getpid(), []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	if s.HTTP != "http://127.0.0.1:1" || s.Stop() != nil {
		t.Fatalf("attached %+v", s)
	}
	select {
	case <-s.Exited():
		t.Fatal("an attached server reports an exit")
	case <-time.After(10 * time.Millisecond):
	}
}
