// Command crash is a small order-processing service that crashes.
//
// It starts a pool of workers waiting for jobs, a cache refresher that holds the cache lock
// while it waits for a slow upstream, a request that queues behind that lock, and a metrics
// flusher that sleeps between flushes. Then a request handler writes into a map it never
// created, and the service dies of "assignment to entry in nil map".
//
// run.sh builds it and runs it with GOTRACEBACK=crash, leaving the binary, the core and the
// runtime's traceback in out/.
package main

import (
	"fmt"
	"log"
	"os"
	"sync"
	"time"
)

type Order struct {
	ID       int
	Customer string
	Items    map[string]int
}

type Job struct {
	Order Order
	Done  chan error
}

// Cache is the service's in-memory customer cache.
type Cache struct {
	mu        sync.Mutex
	customers map[string]string
}

func (c *Cache) Lookup(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.customers[id]
}

// Refresh reloads the cache from upstream, holding the lock for the whole time.
func (c *Cache) Refresh(upstream <-chan map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.customers = <-upstream
}

type Service struct {
	jobs    chan Job
	cache   *Cache
	metrics *Metrics
	ready   sync.WaitGroup
}

// Metrics counts handled requests per endpoint.
type Metrics struct {
	mu     sync.Mutex
	counts map[string]int
}

func (m *Metrics) Flush() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for endpoint, n := range m.counts {
		_, _ = endpoint, n
	}
}

func (s *Service) worker(id int) {
	s.ready.Done()
	for job := range s.jobs {
		job.Done <- s.process(job.Order)
	}
}

func (s *Service) process(o Order) error {
	if len(o.Items) == 0 {
		return fmt.Errorf("order %d: no items", o.ID)
	}
	return nil
}

func (s *Service) flushMetrics() {
	s.ready.Done()
	for {
		time.Sleep(30 * time.Second)
		s.metrics.Flush()
	}
}

// handleAddItem adds an item to a new order. It forgets to make the order's map.
func (s *Service) handleAddItem(customer, item string, qty int) *Order {
	order := &Order{ID: 1001, Customer: customer}
	order.Items[item] += qty
	return order
}

func main() {
	log.SetFlags(0)
	log.SetOutput(os.Stdout)
	s := &Service{
		jobs:    make(chan Job),
		cache:   &Cache{customers: map[string]string{}},
		metrics: &Metrics{counts: map[string]int{}},
	}

	const workers = 4
	s.ready.Add(workers + 1)
	for i := 0; i < workers; i++ {
		go s.worker(i)
	}
	go s.flushMetrics()

	upstream := make(chan map[string]string) // the upstream never answers
	s.ready.Add(1)
	go func() {
		s.ready.Done()
		s.cache.Refresh(upstream)
	}()
	s.ready.Wait()
	time.Sleep(50 * time.Millisecond)

	// A request that needs the cache queues behind the refresher.
	go s.cache.Lookup("c-17")
	time.Sleep(50 * time.Millisecond)

	log.Printf("order service up: %d workers", workers)
	s.metrics.counts["/orders/items"]++
	order := s.handleAddItem("c-17", "widget", 2)
	log.Printf("created order %d", order.ID)
}
