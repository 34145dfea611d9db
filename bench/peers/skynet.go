// Go peer for weft's benchmarks (bench/run.sh runs it with GOMAXPROCS=1): skynet 1M,
// resident memory per parked goroutine, Gosched ping-pong and spawn+join, measured the
// way bench/*.cpp measure weft. Prints one JSON object per line.
//
//	go run skynet.go measure.go [-reps 5] [-parked 100000] [-skynet=false]
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

func skynet(c chan<- int64, num, size, div int64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int64)
	child := size / div
	for i := int64(0); i < div; i++ {
		go skynet(rc, num+i*child, child, div)
	}
	var sum int64
	for i := int64(0); i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func benchSkynet(reps int) {
	const expected = 499999500000
	var ms []float64
	for r := 0; r < reps; r++ {
		c := make(chan int64)
		start := cpuTime()
		go skynet(c, 0, 1000000, 10)
		got := <-c
		ms = append(ms, float64((cpuTime()-start).Microseconds())/1000)
		if got != expected {
			fmt.Fprintf(os.Stderr, "skynet: wrong sum %d\n", got)
			os.Exit(1)
		}
	}
	emit(map[string]any{"bench": "skynet_1M", "ms_median": median(ms), "ms_all": ms})
}

// Reads the resident set from /proc/self/statm, as bench/rss_parked.cpp does.
func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var total, resident int64
	fmt.Sscan(string(b), &total, &resident)
	return resident * int64(os.Getpagesize()) / 1024
}

func benchParked(n int) {
	gate := make(chan struct{})
	var parked int64
	var wg sync.WaitGroup
	wg.Add(n)
	runtime.GC()
	before := rssKiB()
	for i := 0; i < n; i++ {
		go func() {
			atomic.AddInt64(&parked, 1)
			<-gate
			wg.Done()
		}()
	}
	for atomic.LoadInt64(&parked) < int64(n) {
		runtime.Gosched()
	}
	after := rssKiB()
	close(gate)
	wg.Wait()
	emit(map[string]any{"bench": "rss_parked", "fibers": n, "rss_before_kib": before,
		"rss_after_kib": after, "kib_per_fiber": float64(after-before) / float64(n)})
}

func benchGosched(reps int) {
	ns := timeOps(reps, 2, func(iters int) {
		var done int32
		finished := make(chan struct{})
		go func() {
			for atomic.LoadInt32(&done) == 0 {
				runtime.Gosched()
			}
			close(finished)
		}()
		runtime.Gosched()
		for i := 0; i < iters; i++ {
			runtime.Gosched()
		}
		atomic.StoreInt32(&done, 1)
		<-finished
	})
	emit(map[string]any{"bench": "gosched_pingpong", "ns_per_switch": ns})
}

func benchSpawnJoin(reps int) {
	noop := func(wg *sync.WaitGroup) { wg.Done() }
	serial := timeOps(reps, 1, func(iters int) {
		var wg sync.WaitGroup
		for i := 0; i < iters; i++ {
			wg.Add(1)
			go noop(&wg)
			wg.Wait()
		}
	})
	emit(map[string]any{"bench": "spawn_join", "ns_per_spawn_join": serial})
	batch := timeOps(reps, 1000, func(iters int) {
		var wg sync.WaitGroup
		for i := 0; i < iters; i++ {
			wg.Add(1000)
			for k := 0; k < 1000; k++ {
				go noop(&wg)
			}
			wg.Wait()
		}
	})
	emit(map[string]any{"bench": "spawn_join_batch", "ns_per_spawn_join": batch})
}

func main() {
	reps := flag.Int("reps", 5, "repetitions; medians are reported")
	parked := flag.Int("parked", 100000, "goroutines to park for the RSS figure")
	withSkynet := flag.Bool("skynet", true, "run skynet 1M")
	flag.Parse()
	// First, while the heap is small, so other benchmarks' leftovers do not hide growth.
	benchParked(*parked)
	benchGosched(*reps)
	benchSpawnJoin(*reps)
	if *withSkynet {
		benchSkynet(*reps)
	}
}
