// The program behind the checked-in cores of rust/core/tests/cores: goroutines blocked in
// distinct ways, then a nil pointer dereference in main once every one of them is parked, so
// that GOTRACEBACK=crash prints each in a known state and the kernel writes a core.
package main

import (
	"bytes"
	"runtime"
	"sync"
	"time"
)

type node struct{ val int }

var (
	ready    sync.WaitGroup
	never    sync.WaitGroup
	mu       sync.Mutex
	recvCh   = make(chan int)
	sendCh   = make(chan int)
	selectA  = make(chan int)
	selectB  = make(chan string)
	finished = make(chan struct{})
)

// take is small enough to be inlined into its caller, which the traceback prints as
// main.take(...).
func take(ch chan int) int {
	return <-ch
}

// receiver has a deferred call pending and an inlined call on its stack.
func receiver() {
	defer close(finished)
	ready.Done()
	println(take(recvCh))
}

func sender() {
	ready.Done()
	sendCh <- 1
}

func selecter() {
	ready.Done()
	select {
	case <-selectA:
	case <-selectB:
	}
}

func locker() {
	ready.Done()
	mu.Lock()
}

func waiter() {
	ready.Done()
	never.Wait()
}

func sleeper() {
	ready.Done()
	time.Sleep(time.Hour)
}

// pinned waits on a nil channel on a thread of its own: "chan receive (nil chan), locked to
// thread".
func pinned() {
	runtime.LockOSThread()
	var ch chan int
	ready.Done()
	<-ch
}

// settle returns once no goroutine but the caller is running or runnable, so every worker
// is parked in its wait when main crashes.
func settle() {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		all := buf[:n]
		if bytes.Count(all, []byte(" [running]:")) == 1 && !bytes.Contains(all, []byte(" [runnable]:")) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func deref(p *node) int {
	return p.val
}

func main() {
	mu.Lock()
	never.Add(1)
	ready.Add(7)
	go receiver()
	go sender()
	go selecter()
	go locker()
	go waiter()
	go sleeper()
	go pinned()
	ready.Wait()
	settle()
	var p *node
	println(deref(p))
}
