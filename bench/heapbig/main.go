// Command heapbig builds a live heap of about 2 GB shaped like a long-running service's, then
// dies of a nil pointer dereference, for benchmarking heap analysis on a large core.
//
// At scale 1 (the default; `heapbig 0.1` builds a tenth) it holds:
//
//   - main.accounts: a map[string]*Account of 1,000,000 accounts (112 bytes each with their
//     name, e-mail and a two-element tag slice: four objects per account), each pointing to a
//     parent account;
//   - main.events: a []*Event of 4,000,000 events (64 bytes), each pointing to an account
//     and to the event before it;
//   - main.queue: a linked list of 2,000,000 nodes (48 bytes);
//   - main.index: a balanced binary tree of 2,000,000 nodes (32 bytes) over the events;
//   - main.shards: 10,000 slices of 100 account pointers;
//   - main.blobs: ten 128 MiB []byte filled with data;
//   - eight goroutines blocked on a package channel, each holding an account and a slice of
//     events on its stack.
//
// Run it with GOTRACEBACK=crash and an unlimited core size: once everything is built it
// collects once, switches the collector off, prints one line to stdout,
//
//	FIXTURE {"pid": ..., "go_version": ..., "scale": 1, "types": {"main.Account": {"count":
//	         1000000, "size": 112}, ...}, "blobs": {...}, "memstats": {...}}
//
// and crashes, leaving a core of about 2.2 GB.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// Account is what the map holds.
type Account struct {
	ID      int64
	Name    string
	Email   string
	Tags    []string
	Parent  *Account
	Balance float64
	Created int64
	Flags   [4]uint32
}

// Event is what the event log holds.
type Event struct {
	At      int64
	Kind    int64
	Account *Account
	Prev    *Event
	Data    [4]int64
}

// Node is an element of the linked list.
type Node struct {
	Value int64
	Label string
	Next  *Node
	Extra [2]int64
}

// TreeNode is a node of the binary tree over the events.
type TreeNode struct {
	Key   int64
	Left  *TreeNode
	Right *TreeNode
	Event *Event
}

const (
	baseAccounts = 1_000_000
	baseEvents   = 4_000_000
	baseNodes    = 2_000_000
	baseTree     = 2_000_000
	baseShards   = 10_000
	shardSize    = 100
	baseBlobs    = 10
	blobBytes    = 128 << 20
	holders      = 8
)

var (
	accounts map[string]*Account
	events   []*Event
	queue    *Node
	index    *TreeNode
	shards   [][]*Account
	blobs    [][]byte
	// wake is what the holding goroutines wait on, forever.
	wake = make(chan struct{})
)

var tagNames = []string{"free", "pro", "team", "enterprise", "trial", "eu", "us", "apac", "beta",
	"internal", "partner"}

func scaled(n int, scale float64) int {
	v := int(float64(n) * scale)
	if v < 1 {
		v = 1
	}
	return v
}

// fill writes a pattern that depends on SEED into every byte of BUF.
func fill(buf []byte, seed int) {
	n := 4096
	if n > len(buf) {
		n = len(buf)
	}
	for i := 0; i < n; i++ {
		buf[i] = byte((i*31+seed*7)%251 + 1)
	}
	for n < len(buf) {
		n += copy(buf[n:], buf[:n])
	}
}

//go:noinline
func buildBlobs(count int) {
	blobs = make([][]byte, count)
	for i := range blobs {
		blobs[i] = make([]byte, blobBytes)
		fill(blobs[i], i)
	}
}

//go:noinline
func buildAccounts(count int) {
	accounts = make(map[string]*Account, count)
	var parent *Account
	for i := 0; i < count; i++ {
		name := "acct-" + strconv.Itoa(i)
		a := &Account{
			ID:      int64(i),
			Name:    name,
			Email:   name + "@example.com",
			Tags:    []string{tagNames[i%len(tagNames)], tagNames[(i/7)%len(tagNames)]},
			Parent:  parent,
			Balance: float64(i) * 1.25,
			Created: 1_700_000_000 + int64(i),
			Flags:   [4]uint32{uint32(i), uint32(i >> 8), 1, 2},
		}
		accounts[name] = a
		if i%100 == 0 {
			parent = a
		}
	}
}

//go:noinline
func buildEvents(count int, nAccounts int) {
	events = make([]*Event, count)
	var prev *Event
	for i := range events {
		e := &Event{
			At:      1_700_000_000_000 + int64(i),
			Kind:    int64(i % 13),
			Account: accounts["acct-"+strconv.Itoa(i%nAccounts)],
			Prev:    prev,
		}
		e.Data[0] = int64(i)
		events[i] = e
		prev = e
	}
}

//go:noinline
func buildQueue(count int) {
	var head *Node
	for i := 0; i < count; i++ {
		head = &Node{Value: int64(i), Label: tagNames[i%len(tagNames)], Next: head}
	}
	queue = head
}

// buildTree builds a balanced tree over keys [lo, hi).
func buildTree(lo, hi int) *TreeNode {
	if lo >= hi {
		return nil
	}
	mid := lo + (hi-lo)/2
	return &TreeNode{
		Key:   int64(mid),
		Left:  buildTree(lo, mid),
		Right: buildTree(mid+1, hi),
		Event: events[mid%len(events)],
	}
}

//go:noinline
func buildShards(count int, nAccounts int) {
	shards = make([][]*Account, count)
	for i := range shards {
		shard := make([]*Account, shardSize)
		for j := range shard {
			shard[j] = accounts["acct-"+strconv.Itoa((i*shardSize+j)%nAccounts)]
		}
		shards[i] = shard
	}
}

// hold keeps an account and a window of events live on its stack while it waits for good.
//
//go:noinline
func hold(a *Account, window []*Event, parked chan<- struct{}) {
	parked <- struct{}{}
	<-wake
	runtime.KeepAlive(a)
	runtime.KeepAlive(window)
}

type count struct {
	Count int     `json:"count"`
	Size  uintptr `json:"size"`
}

func main() {
	scale := 1.0
	if len(os.Args) > 1 {
		v, err := strconv.ParseFloat(os.Args[1], 64)
		if err != nil || v <= 0 {
			fmt.Fprintf(os.Stderr, "usage: heapbig [SCALE]\n")
			os.Exit(2)
		}
		scale = v
	}
	started := time.Now()
	nAccounts := scaled(baseAccounts, scale)
	nEvents := scaled(baseEvents, scale)
	nNodes := scaled(baseNodes, scale)
	nTree := scaled(baseTree, scale)
	nShards := scaled(baseShards, scale)
	nBlobs := scaled(baseBlobs, scale)

	// The blobs first: the collector's goal then starts high, and building the rest takes
	// few collections.
	buildBlobs(nBlobs)
	buildAccounts(nAccounts)
	buildEvents(nEvents, nAccounts)
	buildQueue(nNodes)
	index = buildTree(0, nTree)
	buildShards(nShards, nAccounts)

	parked := make(chan struct{})
	for i := 0; i < holders; i++ {
		lo := i * len(events) / holders
		go hold(events[lo].Account, events[lo:lo+len(events)/holders/4], parked)
	}
	for i := 0; i < holders; i++ {
		<-parked
	}

	facts := map[string]interface{}{
		"pid":        os.Getpid(),
		"go_version": runtime.Version(),
		"scale":      scale,
		"types": map[string]count{
			fmt.Sprintf("%T", Account{}):  {nAccounts, unsafe.Sizeof(Account{})},
			fmt.Sprintf("%T", Event{}):    {nEvents, unsafe.Sizeof(Event{})},
			fmt.Sprintf("%T", Node{}):     {nNodes, unsafe.Sizeof(Node{})},
			fmt.Sprintf("%T", TreeNode{}): {nTree, unsafe.Sizeof(TreeNode{})},
		},
		"globals": map[string]int{
			"main.accounts": len(accounts),
			"main.events":   len(events),
			"main.shards":   len(shards),
			"main.blobs":    len(blobs),
		},
		"blobs":         count{nBlobs, blobBytes},
		"holders":       holders,
		"build_seconds": time.Since(started).Seconds(),
	}
	line, err := json.Marshal(facts)
	if err != nil {
		panic(err)
	}
	writeWithMemStats(line)
	fmt.Println(balanceOf(nil))
}

// balanceOf is the crashing leaf: called with nil, its load faults.
//
//go:noinline
func balanceOf(a *Account) float64 {
	return a.Balance
}

// writeWithMemStats writes LINE (a JSON object) to stdout as the FIXTURE line, with a
// "memstats" member added: what runtime.ReadMemStats says after one collection, with the
// collector then switched off. Nothing is allocated after ReadMemStats.
func writeWithMemStats(line []byte) {
	buf := make([]byte, 0, len(line)+600)
	runtime.GC()
	time.Sleep(100 * time.Millisecond)
	debug.SetGCPercent(-1)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	buf = append(buf, "FIXTURE "...)
	buf = append(buf, line[:len(line)-1]...)
	fields := [...]struct {
		name  string
		value uint64
	}{
		{"HeapInuse", ms.HeapInuse},
		{"HeapObjects", ms.HeapObjects},
		{"HeapAlloc", ms.HeapAlloc},
		{"HeapSys", ms.HeapSys},
		{"HeapIdle", ms.HeapIdle},
		{"HeapReleased", ms.HeapReleased},
		{"StackInuse", ms.StackInuse},
		{"Sys", ms.Sys},
		{"NumGC", uint64(ms.NumGC)},
	}
	buf = append(buf, `,"memstats":{`...)
	for i, f := range fields {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '"')
		buf = append(buf, f.name...)
		buf = append(buf, `":`...)
		buf = strconv.AppendUint(buf, f.value, 10)
	}
	buf = append(buf, "}}\n"...)
	rawWrite(buf)
}

// rawWrite writes b to stdout with raw system calls. os.Stdout.Write tells the scheduler it is
// in a system call: if a busy machine slows the write down, the scheduler hands the P to
// another thread, maybe a new one whose stacks and m are allocated after the statistics were
// read. A raw call is invisible to it.
func rawWrite(b []byte) {
	for len(b) > 0 {
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, 1,
			uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 || n == 0 {
			return
		}
		b = b[n:]
	}
}
