// Command layouts is the reference program whose DWARF scripts/gen-layouts reads to produce
// goscope's per-release runtime layout tables. The runtime's own types are in the DWARF of
// every Go binary; this program also exercises channels, select, defer, panic and recover,
// sync, maps, interfaces, timers and reflection so that the runtime code behind them is linked.
// It runs to completion and prints a short summary.
package main

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

type shape interface {
	area() float64
}

type rect struct{ w, h float64 }

func (r rect) area() float64 { return r.w * r.h }

type circle struct{ r float64 }

func (c *circle) area() float64 { return 3 * c.r * c.r }

var errBoom = errors.New("boom")

// recovered panics with value v inside two deferred calls and returns what recover saw.
func recovered(v any) (got any) {
	defer func() {
		got = recover()
	}()
	defer func() {
		_ = fmt.Sprint("unwinding")
	}()
	panic(v)
}

// pipeline sends n values through a buffered and an unbuffered channel and a select loop.
func pipeline(n int) int {
	in := make(chan int, 4)
	out := make(chan int)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(out)
		for v := range in {
			out <- v * 2
		}
	}()
	go func() {
		for i := 0; i < n; i++ {
			in <- i
		}
		close(in)
	}()
	sum := 0
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case v, ok := <-out:
			if !ok {
				close(done)
				wg.Wait()
				<-done
				return sum
			}
			sum += v
		case <-timeout.C:
			return -1
		}
	}
}

// contend has goroutines take a mutex, an RWMutex and wait on a condition variable.
func contend(workers int) int {
	var mu sync.Mutex
	var rw sync.RWMutex
	cond := sync.NewCond(&mu)
	ready := 0
	counts := map[int]int{}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			rw.RLock()
			rw.RUnlock()
			mu.Lock()
			ready++
			counts[id%3]++
			cond.Broadcast()
			for ready < workers {
				cond.Wait()
			}
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	rw.Lock()
	defer rw.Unlock()
	return len(counts)
}

func describe(values []any) string {
	var parts []string
	for _, v := range values {
		t := reflect.TypeOf(v)
		switch x := v.(type) {
		case shape:
			parts = append(parts, fmt.Sprintf("%s:%.0f", t, x.area()))
		case error:
			parts = append(parts, "error:"+x.Error())
		default:
			parts = append(parts, t.Kind().String())
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func main() {
	var once sync.Once
	once.Do(func() { runtime.Gosched() })
	fmt.Println("pipeline", pipeline(100))
	fmt.Println("contend", contend(8))
	fmt.Println("recovered", recovered(errBoom), recovered("text"))
	fmt.Println("describe", describe([]any{rect{2, 3}, &circle{1}, errBoom, 7, map[string]int{}}))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.NumGC > 1<<30 {
		os.Exit(1)
	}
}
