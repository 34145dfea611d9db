// Go peer for weft's coordination benchmarks (bench/sync_bench.cpp; bench/run.sh runs it
// with GOMAXPROCS=1 on one CPU): sync.Mutex uncontended and handed between two goroutines,
// an unbuffered channel's ping-pong and a buffered channel's throughput, each measured the
// way the C++ side measures weft's. Prints one JSON object per line.
//
//	go run sync.go [-reps 5]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"time"
)

// CPU time of the process (user + system), as Google Benchmark's CPU time.
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

// Repeats f(iters) until one run takes a quarter of a second of CPU, reps times; the
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

func benchMutexUncontended(reps int) {
	var mu sync.Mutex
	counter := 0
	ns := timeOps(reps, 1, func(iters int) {
		for i := 0; i < iters; i++ {
			mu.Lock()
			counter++
			mu.Unlock()
		}
	})
	emit(map[string]any{"bench": "mutex_uncontended", "ns_per_lock_unlock": ns, "check": counter > 0})
}

// Two goroutines each take the mutex, yield while holding it (so the other finds it
// taken and waits), and release it: every acquisition is a hand-off.
func benchMutexHandoff(reps int) {
	ns := timeOps(reps, 2, func(iters int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		wg.Add(2)
		for g := 0; g < 2; g++ {
			go func() {
				for i := 0; i < iters; i++ {
					mu.Lock()
					runtime.Gosched()
					mu.Unlock()
				}
				wg.Done()
			}()
		}
		wg.Wait()
	})
	emit(map[string]any{"bench": "mutex_handoff", "ns_per_handoff": ns})
}

// A value sent to a partner on an unbuffered channel and back on another: two hops.
func benchUnbufferedPingPong(reps int) {
	ns := timeOps(reps, 2, func(iters int) {
		ping, pong := make(chan int), make(chan int)
		go func() {
			for v := range ping {
				pong <- v
			}
			close(pong)
		}()
		for i := 0; i < iters; i++ {
			ping <- i
			if <-pong != i {
				panic("ping-pong: wrong value")
			}
		}
		close(ping)
		<-pong
	})
	emit(map[string]any{"bench": "chan_unbuffered_pingpong", "ns_per_hop": ns})
}

// One producer, one consumer, a channel of capacity 1024.
func benchBufferedThroughput(reps int) {
	ns := timeOps(reps, 1, func(iters int) {
		ch := make(chan int, 1024)
		done := make(chan int)
		go func() {
			sum := 0
			for v := range ch {
				sum += v
			}
			done <- sum
		}()
		want := 0
		for i := 0; i < iters; i++ {
			ch <- i
			want += i
		}
		close(ch)
		if <-done != want {
			panic("buffered: wrong sum")
		}
	})
	emit(map[string]any{"bench": "chan_buffered_1024", "ns_per_value": ns})
}

func main() {
	reps := flag.Int("reps", 5, "repetitions; medians are reported")
	flag.Parse()
	benchMutexUncontended(*reps)
	benchMutexHandoff(*reps)
	benchUnbufferedPingPong(*reps)
	benchBufferedThroughput(*reps)
}
