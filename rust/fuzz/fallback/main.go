// The executable the pclntab and runtime fuzz targets read when build/fixtures has not been
// built: goroutines blocked on channels and locks, deferred calls, a recovered panic and a
// map, so that its tables hold what the fixtures' do.
package main

import (
	"fmt"
	"sync"
)

type node struct {
	next  *node
	value [4]int
}

var keep = map[string]*node{}

func worker(id int, ch chan int, mu *sync.Mutex, wg *sync.WaitGroup) {
	defer wg.Done()
	defer func() {
		if r := recover(); r != nil {
			fmt.Println("recovered", r)
		}
	}()
	mu.Lock()
	keep[fmt.Sprint(id)] = &node{value: [4]int{id}}
	mu.Unlock()
	if id == 3 {
		panic(fmt.Sprintf("worker %d", id))
	}
	<-ch
}

func main() {
	ch := make(chan int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go worker(i, ch, &mu, &wg)
	}
	close(ch)
	wg.Wait()
	fmt.Println(len(keep))
}
