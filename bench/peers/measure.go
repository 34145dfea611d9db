// Measuring, for the Go peers (skynet.go, sync.go; each is built together with this file):
// CPU time as Google Benchmark counts it, medians, and one JSON object per line.
package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"syscall"
	"time"
)

// CPU time of the process (user + system), as Google Benchmark's CPU time in
// bench/*.cpp: on a shared machine it does not count time spent preempted.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func emit(fields map[string]any) {
	fields["gomaxprocs"] = runtime.GOMAXPROCS(0)
	fields["go"] = runtime.Version()
	b, _ := json.Marshal(fields)
	fmt.Println(string(b))
}

// Repeats f(iters) until it has taken a quarter of a second of CPU, reps times; the
// median of ns per op.
func timeOps(reps int, opsPerIter int, f func(iters int)) float64 {
	var ns []float64
	for r := 0; r < reps; r++ {
		iters := 1000
		for {
			start := cpuTime()
			f(iters)
			d := cpuTime() - start
			if d > 250*time.Millisecond {
				ns = append(ns, float64(d.Nanoseconds())/float64(iters*opsPerIter))
				break
			}
			iters *= 4
		}
	}
	return median(ns)
}
