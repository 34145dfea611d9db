// Go peer for weft's coordination benchmarks (bench/sync_bench.cpp; bench/run.sh runs it
// with GOMAXPROCS=1 on one CPU): sync.Mutex uncontended and handed between two goroutines,
// an unbuffered channel's ping-pong and a buffered channel's throughput, each measured the
// way the C++ side measures weft's. Prints one JSON object per line.
//
//	go run sync.go measure.go [-reps 5]
package main

import (
	"flag"
	"runtime"
	"sync"
)

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
