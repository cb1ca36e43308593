//! Why parked goroutines cannot go on, and which of them never will.
//!
//! Each goroutine parked on a channel, a sync object or a semaphore is tied to the object it
//! waits on: channels from the sudogs on `g.waiting`; mutexes, RWMutexes, WaitGroups and other
//! semaphores from the sudog treaps of `runtime.semtable` (the semaphore address, mapped back to
//! the sync object around it by the sync frame the goroutine is parked in); condition
//! variables from the `notifyList` of the `sync.Cond` its `Wait` frame holds.
//!
//! Who could release an object is inferred from references: a goroutine whose stack, pending
//! deferred calls or the heap objects its stack points to hold the object's address (or a
//! pointer to a struct that contains it) could unlock, send, signal or call `Done`; an object
//! a global variable holds or points to could be released by anyone. A goroutine is stuck for
//! good when every object it waits on can only be released by goroutines that are themselves
//! stuck. Stuck goroutines that wait on each other, or on sync objects, are deadlocks; the rest
//! (blocked on channels nobody else can reach) are leaks, grouped by where they wait.
//!
//! References found conservatively can only add releasers, which can only clear goroutines;
//! a goroutine is called stuck only when no reference to what it waits on was found outside
//! the stuck set. References held in registers of running threads or through more than one
//! heap object are not followed: the report says stuck "as far as the core shows".

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde::Serialize;

use crate::analysis::heapgraph::{HeapGraph, Root};
use crate::bytes::words;
use crate::fasthash::FastMap;
use crate::runtime::unwind::Code;
use crate::runtime::{
    live_slots, Channel, FrameCache, FrameSpan, Goroutine, HeapIndex, Limits, Runtime,
};
use crate::target::MemoryExt;

/// Bytes of a heap object read when following a pointer from a stack or a global.
const HOP_BYTES: u64 = 4096;
/// Bounds on what the reference scan reads.
const MAX_STACK_BYTES: u64 = 64 << 20;
const MAX_HOPS: u64 = 1 << 22;
const MAX_QUEUE: usize = 1 << 16;
/// The tiny allocator packs small pointer-free objects into blocks of this size.
const TINY_BLOCK: u64 = 16;
/// Closure words of a pending deferred call searched for captured objects.
const CLOSURE_WORDS: u64 = 8;
/// Long waits: this many goroutines at one site, each waiting at least this long.
const LONG_WAIT_COUNT: usize = 10;
const LONG_WAIT_MINUTES: i64 = 10;

/// An object parked goroutines wait on.
#[derive(Debug, Clone, Serialize)]
pub struct WaitObject {
    pub addr: u64,
    /// `channel`, `mutex`, `rwmutex`, `waitgroup`, `cond` or `semaphore`.
    pub kind: &'static str,
    /// `chan T`, `sync.Mutex`, …
    #[serde(rename = "type")]
    pub type_name: String,
    /// Its state in words: `locked, 2 waiting`, `counter 2`, `unbuffered`.
    pub detail: String,
    pub waiters: Vec<u64>,
    /// Goroutines, other than its waiters, that hold a reference to it: the holder of a lock
    /// is among them, and so is whoever could send, signal or call `Done`.
    pub holders: Vec<u64>,
    /// How each holder references it: `deferred call`, `stack` or `heap object`.
    pub holder_evidence: BTreeMap<u64, &'static str>,
    /// A global variable holds it or points to it: any goroutine could release it.
    pub global: bool,
}

/// Goroutines that wait on each other, or on objects only stuck goroutines could release.
#[derive(Debug, Clone, Serialize)]
pub struct Deadlock {
    /// `lock cycle`, `channel cycle`, `wait cycle`, `waitgroup never done`,
    /// `rwmutex writer behind reader`, `mutex never unlocked`, `cond never signalled`.
    pub kind: &'static str,
    pub summary: String,
    pub goroutines: Vec<u64>,
    pub objects: Vec<u64>,
}

/// Goroutines blocked at one site on objects no other goroutine can reach, or blocked there
/// for a long time.
#[derive(Debug, Clone, Serialize)]
pub struct Leak {
    /// The wait reason: `chan send`, `chan receive`, `select`, …
    pub kind: String,
    /// The topmost frame outside the runtime: `function (file:line)`.
    pub site: String,
    pub count: usize,
    pub goroutines: Vec<u64>,
    pub objects: Vec<u64>,
    /// Proven stuck (true), or only waiting long at a crowded site (false).
    pub stuck: bool,
    pub min_wait_minutes: Option<i64>,
    pub max_wait_minutes: Option<i64>,
    pub summary: String,
}

/// What goroutines wait on and which of them are stuck.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Blocking {
    pub channels: Vec<Channel>,
    pub objects: Vec<WaitObject>,
    pub deadlocks: Vec<Deadlock>,
    pub leaks: Vec<Leak>,
    /// Goroutines leaked by reachability, by site and reason: blocked on channels or sync
    /// objects that no global and no goroutine that can still run reaches, through any chain
    /// of heap objects (Go's goroutine leak profile's definition). None when the heap's
    /// object graph was not built.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<Vec<Leak>>,
    /// What limited the analysis (a semaphore table not found, a scan cut short).
    pub notes: Vec<String>,
}

/// How a parked goroutine waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Can still act (running, runnable, sleeping, in a system call or I/O) or is the
    /// runtime's own: may release anything it references.
    Live,
    /// On channels, a sync object or a semaphore, until someone else acts.
    Blocked,
    /// Forever by construction (`select {}`, nil channel): releases nothing, never reported
    /// as a deadlock.
    Forever,
}

/// What the analysis keeps of each goroutine.
struct Parked {
    id: u64,
    /// The runtime's own goroutine (GC workers, finalizers, …).
    system: bool,
    gp: u64,
    wait: Wait,
    reason: String,
    minutes: Option<i64>,
    site: Site,
    /// Functions of the sync frames, innermost first (`sync.(*Mutex).lockSlow`, …).
    sync_frames: Vec<String>,
    /// The `sync.(*Cond).Wait` frame's [sp, fp), when parked there.
    cond_frame: Option<(u64, u64)>,
    closures: Vec<u64>,
    /// Indices into the objects it waits on.
    objects: Vec<usize>,
    /// (sudog, channel) of a channel wait.
    chans: Vec<(u64, u64)>,
}

const BLOCKING_REASONS: &[&str] = &[
    "chan receive",
    "chan send",
    "select",
    "sync.Mutex.Lock",
    "sync.RWMutex.RLock",
    "sync.RWMutex.Lock",
    "sync.WaitGroup.Wait",
    "sync.Cond.Wait",
    "semacquire",
];

const FOREVER_REASONS: &[&str] = &[
    "select (no cases)",
    "chan receive (nil chan)",
    "chan send (nil chan)",
];

/// Where a goroutine waits: the topmost frame outside the runtime and sync packages.
type Site = (Arc<str>, Arc<str>, i32);

fn site_text(site: &Site) -> String {
    format!("{} ({}:{})", site.0, site.1, site.2)
}

/// Collects goroutines during the one decoding pass the triage makes.
#[derive(Default)]
pub struct WaitCollector {
    parked: Vec<Parked>,
}

impl WaitCollector {
    pub fn add(&mut self, rt: &Runtime, g: &Goroutine) {
        if g.error.is_some() && g.frames.is_empty() {
            return;
        }
        if g.status.starts_with("dead") || g.status == "idle" {
            return;
        }
        let reason = g.wait_reason.clone().unwrap_or_default();
        let system = g
            .start
            .as_ref()
            .is_some_and(|s| s.function.starts_with("runtime.") && &*s.function != "runtime.main");
        let wait = if !g.status.starts_with("waiting") || system {
            Wait::Live
        } else if FOREVER_REASONS.contains(&reason.as_str()) {
            Wait::Forever
        } else if BLOCKING_REASONS.contains(&reason.as_str()) {
            Wait::Blocked
        } else {
            Wait::Live
        };
        let site: Site = g
            .frames
            .iter()
            .find(|f| !f.function.starts_with("runtime.") && !is_sync(&f.function))
            .or(g.frames.first())
            .map(|f| (Arc::clone(&f.function), Arc::clone(&f.file), f.line))
            .unwrap_or_else(|| (Arc::from("?"), Arc::from("?"), 0));
        let sync_frames = g
            .frames
            .iter()
            .filter(|f| is_sync(&f.function) && !f.function.contains(".runtime_"))
            .map(|f| f.function.to_string())
            .collect();
        let cond_frame = g
            .frames
            .iter()
            .find(|f| f.function.ends_with("(*Cond).Wait") && is_sync(&f.function))
            .and_then(|f| Some((f.sp?, f.fp?)));
        // The channels of a channel wait, read now while its goroutine's memory is at hand.
        let mut chans = Vec::new();
        if reason.starts_with("chan") || reason == "select" {
            let o = rt.offsets().chan;
            let mut sg = rt
                .memory()
                .read_ptr(g.gp.wrapping_add(rt.offsets().g.waiting))
                .unwrap_or(0);
            let mut n = 0;
            while sg != 0 && n < MAX_QUEUE {
                n = n.saturating_add(1);
                if let Ok(c) = rt.memory().read_ptr(sg.wrapping_add(o.sudog_c)) {
                    if c != 0 && !chans.iter().any(|&(_, x)| x == c) {
                        chans.push((sg, c));
                    }
                }
                sg = rt
                    .memory()
                    .read_ptr(sg.wrapping_add(o.sudog_waitlink))
                    .unwrap_or(0);
            }
        }
        self.parked.push(Parked {
            id: g.id,
            system,
            chans,
            gp: g.gp,
            wait,
            reason,
            minutes: g.wait_minutes,
            site,
            sync_frames,
            cond_frame,
            closures: g
                .defers
                .iter()
                .map(|d| d.closure)
                .filter(|&c| c != 0)
                .collect(),
            objects: Vec::new(),
        });
    }
}

fn is_sync(function: &str) -> bool {
    function.starts_with("sync.") || function.starts_with("internal/sync.")
}

/// Heap objects followed, and the bound on them.
#[derive(Default)]
struct Hops {
    count: u64,
    capped: bool,
    seen: std::collections::HashSet<u64>,
    /// The runtime's own records (goroutine structs, sudogs): they point at what goroutines
    /// wait on and at stack bounds, not at what user code holds.
    skip: std::sync::Arc<std::collections::HashSet<u64>>,
}

/// What the reference scan reads of one goroutine's stack.
struct StackView {
    sp: u64,
    hi: u64,
    frames: Vec<FrameSpan>,
    precise: bool,
}

/// Objects being built: address → index, plus what the reference scan matches.
#[derive(Default)]
struct Objects {
    list: Vec<WaitObject>,
    by_addr: HashMap<u64, usize>,
}

impl Objects {
    fn get_or_add(&mut self, addr: u64, kind: &'static str, type_name: String) -> usize {
        if let Some(&i) = self.by_addr.get(&addr) {
            return i;
        }
        let i = self.list.len();
        self.list.push(WaitObject {
            addr,
            kind,
            type_name,
            detail: String::new(),
            waiters: Vec::new(),
            holders: Vec::new(),
            holder_evidence: BTreeMap::new(),
            global: false,
        });
        self.by_addr.insert(addr, i);
        i
    }
}

/// Finds which objects a word refers to: a word pointing anywhere into the heap object that
/// holds an object (the object itself, or a struct with it as a field) refers to it.
struct ReferenceMatcher {
    /// (start, end, objects) of each holding heap object (or of the object itself when it
    /// is not on the heap), by start.
    spans: Vec<(u64, u64, Vec<usize>)>,
    lo: u64,
    hi: u64,
}

impl ReferenceMatcher {
    fn new(objects: &[WaitObject], wanted: &[bool], containers: &[(u64, u64)]) -> ReferenceMatcher {
        let mut by_start: BTreeMap<u64, (u64, Vec<usize>)> = BTreeMap::new();
        for (i, o) in objects.iter().enumerate() {
            if !wanted.get(i).copied().unwrap_or(false) {
                continue;
            }
            let (start, size) = containers.get(i).copied().unwrap_or((o.addr, 8));
            let entry = by_start
                .entry(start)
                .or_insert_with(|| (start.saturating_add(size.max(1)), Vec::new()));
            entry.1.push(i);
        }
        let spans: Vec<(u64, u64, Vec<usize>)> =
            by_start.into_iter().map(|(s, (e, v))| (s, e, v)).collect();
        let lo = spans.first().map_or(u64::MAX, |s| s.0);
        let hi = spans.iter().map(|s| s.1).max().unwrap_or(0);
        ReferenceMatcher { spans, lo, hi }
    }

    fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Calls `hit` for every object `word` refers to.
    fn matches(&self, word: u64, mut hit: impl FnMut(usize)) {
        if word < self.lo || word >= self.hi {
            return;
        }
        let at = self.spans.partition_point(|s| s.0 <= word);
        if let Some((_, end, objs)) = at.checked_sub(1).and_then(|k| self.spans.get(k)) {
            if word < *end {
                for &i in objs {
                    hit(i);
                }
            }
        }
    }
}

/// What the goroutines `collector` saw wait on, who could release it, and which of
/// them are stuck for good.
pub fn blocking(rt: &Runtime, collector: WaitCollector) -> Blocking {
    blocking_with(rt, collector, None)
}

/// `blocking`, with goroutine leaks by reachability through the heap's object graph,
/// which `graph` builds when some blocked goroutine waits on an object no global reaches
/// directly (else only goroutines blocked forever are leaked).
pub fn blocking_with(
    rt: &Runtime,
    collector: WaitCollector,
    graph: Option<&dyn Fn() -> std::sync::Arc<HeapGraph>>,
) -> Blocking {
    let mut parked = collector.parked;
    let mut out = Blocking::default();
    let mut objects = Objects::default();
    let gp_index: FastMap<u64, usize> = parked.iter().enumerate().map(|(i, p)| (p.gp, i)).collect();
    let id_index: FastMap<u64, usize> = parked.iter().enumerate().map(|(i, p)| (p.id, i)).collect();

    // Channels, from each blocked goroutine's sudogs.
    let mut runtime_records: std::collections::HashSet<u64> = parked.iter().map(|p| p.gp).collect();
    for p in parked.iter_mut() {
        for &(sg, c) in &p.chans {
            runtime_records.insert(sg);
            let i = objects.get_or_add(c, "channel", String::new());
            if !p.objects.contains(&i) {
                p.objects.push(i);
            }
        }
    }

    // Semaphores, from the semaphore table.
    let mut semtable = None;
    let wants_sema = parked
        .iter()
        .any(|p| p.wait == Wait::Blocked && p.cond_frame.is_none() && is_sema_reason(&p.reason));
    if wants_sema {
        match rt.sema_waits(&gp_index, &mut runtime_records) {
            Some((table, waits)) => {
                semtable = Some(table);
                for (gp, addr) in waits {
                    let Some(&pi) = gp_index.get(&gp) else {
                        continue;
                    };
                    let Some(p) = parked.get_mut(pi) else {
                        continue;
                    };
                    let (obj, kind, type_name) = rt.sync_object(addr, &p.sync_frames);
                    let i = objects.get_or_add(obj, kind, type_name.to_string());
                    if !p.objects.contains(&i) {
                        p.objects.push(i);
                    }
                }
            }
            None => out.notes.push(
                "the semaphore table (runtime.semtable) was not found: goroutines waiting \
                 on sync objects are not tied to them"
                    .to_string(),
            ),
        }
    }

    // Condition variables, from the Cond each Wait frame holds; each notify list is
    // walked once, for all of its waiters.
    let mut cond_waiters: HashMap<u64, u64> = HashMap::new();
    for p in parked.iter_mut().filter(|p| p.wait == Wait::Blocked) {
        if let Some((lo, hi)) = p.cond_frame {
            let known = cond_waiters.get(&p.gp).copied();
            let found =
                known.or_else(|| rt.cond_of(p.gp, lo, hi, &mut runtime_records, &mut cond_waiters));
            if let Some(cond) = found {
                let i = objects.get_or_add(cond, "cond", "sync.Cond".to_string());
                p.objects.push(i);
            }
        }
    }

    for p in &parked {
        for &i in &p.objects {
            if let Some(o) = objects.list.get_mut(i) {
                o.waiters.push(p.id);
            }
        }
    }

    // Objects the runtime itself releases (timer channels), and ones globals reach.
    let mut releasable = vec![false; objects.list.len()];
    for (i, o) in objects.list.iter_mut().enumerate() {
        if describe(rt, o, &mut out.channels) {
            if let Some(r) = releasable.get_mut(i) {
                *r = true;
            }
        }
    }
    // Reading queues and tables touched much of the core: let it go.
    rt.memory().trim();
    let heap = rt.heap_index();
    if heap.is_none() && !objects.list.is_empty() {
        out.notes.push(
            "the heap's arena table was not found: references through heap objects are \
             not followed"
                .to_string(),
        );
    }
    let containers: Vec<(u64, u64)> = objects
        .list
        .iter()
        .map(|o| {
            heap.and_then(|h| rt.object_of(h, o.addr))
                // 16-byte blocks may hold several tiny objects: only the object itself.
                .filter(|&(_, size)| size > TINY_BLOCK)
                .unwrap_or((o.addr, 8))
        })
        .collect();
    let skip = std::sync::Arc::new(runtime_records);
    let semtable_range = semtable.map(|t| {
        let o = rt.offsets().sema;
        (t, t.wrapping_add(o.table_size.wrapping_mul(o.root_stride)))
    });
    mark_globals(
        rt,
        &mut objects.list,
        &containers,
        heap,
        (&skip, semtable_range),
        &mut out.notes,
    );

    // References from goroutines: stacks, deferred calls, heap objects one pointer away.
    // Only needed when some object is not reachable from a global.
    let all = vec![true; objects.list.len()];
    let matcher = ReferenceMatcher::new(&objects.list, &all, &containers);
    if objects.list.iter().any(|o| !o.global) {
        scan_references(
            rt,
            &parked,
            &matcher,
            heap,
            &skip,
            &mut objects.list,
            &mut out.notes,
        );
    } else {
        // Deferred calls alone still name lock holders cheaply.
        scan_closures(rt, &parked, &matcher, &mut objects.list);
    }
    for o in &mut objects.list {
        o.waiters.sort_unstable();
        o.waiters.dedup();
        let waiters = &o.waiters;
        o.holders = o
            .holder_evidence
            .keys()
            .copied()
            .filter(|id| !waiters.contains(id))
            .collect();
        o.holder_evidence.retain(|id, _| !waiters.contains(id));
    }

    // Stuck: the greatest set of blocked goroutines none of whose objects can be released
    // from outside the set.
    let mut stuck: Vec<bool> = parked
        .iter()
        .map(|p| match p.wait {
            Wait::Live => false,
            Wait::Forever => true,
            Wait::Blocked => {
                !p.objects.is_empty()
                    && p.objects.iter().all(|&i| {
                        !releasable.get(i).copied().unwrap_or(true)
                            && objects.list.get(i).is_some_and(|o| !o.global)
                    })
            }
        })
        .collect();
    loop {
        let mut changed = false;
        for (pi, p) in parked.iter().enumerate() {
            if !stuck.get(pi).copied().unwrap_or(false) || p.wait == Wait::Forever {
                continue;
            }
            let freed = p.objects.iter().any(|&i| {
                objects.list.get(i).is_some_and(|o| {
                    o.holders.iter().any(|h| {
                        id_index
                            .get(h)
                            .is_some_and(|&hi| !stuck.get(hi).copied().unwrap_or(false))
                    })
                })
            });
            if freed {
                if let Some(s) = stuck.get_mut(pi) {
                    *s = false;
                }
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }

    report(&parked, &objects.list, &stuck, &id_index, &mut out);
    if let Some(build) = graph {
        // Objects a global reaches (directly or through one heap object) are reachable:
        // only goroutines waiting on something else need the whole graph.
        let needed = parked.iter().any(|p| {
            p.wait == Wait::Blocked
                && (p.objects.is_empty()
                    || p.objects.iter().any(|&i| {
                        objects.list.get(i).is_some_and(|o| !o.global)
                            && !releasable.get(i).copied().unwrap_or(false)
                    }))
        });
        let graph = needed.then(build);
        out.unreachable = Some(unreachable(
            rt,
            graph.as_deref(),
            &parked,
            &objects.list,
            semtable_range,
            &skip,
        ));
    }
    out.objects = objects.list;
    out.objects
        .sort_by_key(|o| std::cmp::Reverse(o.waiters.len()));
    out
}

/// Fills `type` and `detail` from the object's own state; true for a timer's channel,
/// which the runtime itself sends on (`time.After`, `time.Ticker`).
fn describe(rt: &Runtime, o: &mut WaitObject, channels: &mut Vec<Channel>) -> bool {
    let mut timer = false;
    let s = rt.offsets().sema;
    let mem = &rt.memory();
    match o.kind {
        "channel" => {
            let c = rt.channel(o.addr);
            o.type_name = format!("chan {}", c.elem_type.as_deref().unwrap_or("?"));
            let mut d = if c.cap == 0 {
                "unbuffered".to_string()
            } else {
                format!("buffered {}/{}", c.len, c.cap)
            };
            if c.closed {
                d.push_str(", closed");
            }
            o.detail = d;
            timer = match rt.offsets().sema.chan_timer {
                Some(off) => rt
                    .memory()
                    .read_ptr(o.addr.wrapping_add(off))
                    .is_ok_and(|t| t != 0),
                // Before go1.23 a timer's channel is an ordinary `chan time.Time` of one slot.
                None => c.cap == 1 && c.elem_type.as_deref() == Some("time.Time"),
            };
            channels.push(c);
        }
        "mutex" => {
            o.detail = match mem.read_i32(o.addr.wrapping_add(s.mutex_state)) {
                Ok(state) => mutex_detail(state),
                Err(_) => "unreadable".to_string(),
            };
        }
        "rwmutex" => {
            let count = mem
                .read_i32(o.addr.wrapping_add(s.rw_reader_count))
                .unwrap_or(0);
            let w = mem
                .read_i32(o.addr.wrapping_add(s.mutex_state))
                .unwrap_or(0);
            // A pending writer subtracts 1<<30 from the reader count.
            let departing = mem
                .read_i32(o.addr.wrapping_add(s.rw_reader_wait))
                .unwrap_or(0);
            o.detail = if count < 0 {
                format!(
                    "writer waiting for {departing} reader{} to unlock",
                    if departing == 1 { "" } else { "s" }
                )
            } else if w & 1 != 0 {
                "write-locked".to_string()
            } else {
                format!("{count} reader{}", if count == 1 { "" } else { "s" })
            };
        }
        "waitgroup" => {
            o.detail = match mem.read_u64(o.addr.wrapping_add(s.wg_state)) {
                Ok(state) => {
                    let counter = (state >> 32) as i32;
                    let waiters = (state as u32) & 0x7fff_ffff;
                    format!("counter {counter}, {waiters} waiting")
                }
                Err(_) => "unreadable".to_string(),
            };
        }
        _ => {}
    }
    if o.detail.is_empty() {
        o.detail = format!("{} waiting", o.waiters.len());
    }
    timer
}

/// Objects in global variables, or pointed to by one (directly or through one heap
/// object), are marked `global`.
fn mark_globals(
    rt: &Runtime,
    objects: &mut [WaitObject],
    containers: &[(u64, u64)],
    heap: Option<HeapIndex>,
    (skip, semtable): (
        &std::sync::Arc<std::collections::HashSet<u64>>,
        Option<(u64, u64)>,
    ),
    notes: &mut Vec<String>,
) {
    let Some(md) = rt.binary().moduledata() else {
        return;
    };
    let (lo, hi) = (
        md.noptrdata.min(md.data).wrapping_add(rt.bias()),
        md.enoptrbss.max(md.ebss).wrapping_add(rt.bias()),
    );
    for o in objects.iter_mut() {
        if o.addr >= lo && o.addr < hi {
            o.global = true;
        }
    }
    let wanted: Vec<bool> = objects.iter().map(|o| !o.global).collect();
    let matcher = ReferenceMatcher::new(objects, &wanted, containers);
    if matcher.is_empty() {
        return;
    }
    let mut hops = Hops {
        skip: std::sync::Arc::clone(skip),
        ..Hops::default()
    };
    // The pointer words of the globals, by the runtime's own bitmaps (runtime globals
    // also hold raw addresses, such as the next free heap address, that are not
    // pointers); every word when the bitmaps cannot be read.
    let globals: Vec<(u64, u64)> = rt.global_pointers().unwrap_or_else(|| {
        let mut all = Vec::new();
        for (start, end) in [(md.data, md.edata), (md.bss, md.ebss)] {
            let (start, end) = (start.wrapping_add(rt.bias()), end.wrapping_add(rt.bias()));
            let Some(len) = end
                .checked_sub(start)
                .and_then(|l| usize::try_from(l.min(64 << 20)).ok())
            else {
                continue;
            };
            if let Ok(bytes) = rt.memory().read_vec(start, len) {
                all.extend(
                    words(&bytes)
                        .enumerate()
                        .map(|(k, w)| (start.wrapping_add((k as u64).wrapping_mul(8)), w)),
                );
            }
        }
        all
    });
    for (at, w) in globals {
        // The semaphore table points at every semaphore waited on: runtime
        // bookkeeping, not a reference user code holds.
        if semtable.is_some_and(|(lo, hi)| at >= lo && at < hi) {
            continue;
        }
        let mut hit = |i: usize| {
            if let Some(o) = objects.get_mut(i) {
                o.global = true;
            }
        };
        matcher.matches(w, &mut hit);
        if let Some(h) = heap {
            hop(rt, h, w, &matcher, &mut hops, &mut hit);
        }
    }
    if hops.capped {
        notes.push(format!(
            "stopped following pointers from globals after {MAX_HOPS} heap objects"
        ));
    }
}

/// The objects the heap object `p` points into refers to (one hop).
fn hop(
    rt: &Runtime,
    heap: HeapIndex,
    p: u64,
    matcher: &ReferenceMatcher,
    hops: &mut Hops,
    hit: &mut impl FnMut(usize),
) {
    if p == 0 || !p.is_multiple_of(8) || hops.capped {
        return;
    }
    let Some((base, size)) = rt.object_of(heap, p) else {
        return;
    };
    if hops.skip.contains(&base) || !hops.seen.insert(base) {
        return;
    }
    hops.count = hops.count.saturating_add(1);
    if hops.count >= MAX_HOPS {
        hops.capped = true;
    }
    let Ok(bytes) = rt.memory().read_vec(base, size.min(HOP_BYTES) as usize) else {
        return;
    };
    for w in words(&bytes) {
        matcher.matches(w, &mut *hit);
    }
}

/// Lock holders named by their pending deferred calls alone.
fn scan_closures(
    rt: &Runtime,
    parked: &[Parked],
    matcher: &ReferenceMatcher,
    objects: &mut [WaitObject],
) {
    for p in parked {
        for &c in &p.closures {
            if let Ok(bytes) = rt.memory().read_vec(c, (CLOSURE_WORDS * 8) as usize) {
                for w in words(&bytes).skip(1) {
                    matcher.matches(w, |i| {
                        if let Some(o) = objects.get_mut(i) {
                            o.holder_evidence.insert(p.id, "deferred call");
                        }
                    });
                }
            }
        }
    }
}

/// Which goroutines reference which objects, and how.
fn scan_references(
    rt: &Runtime,
    parked: &[Parked],
    matcher: &ReferenceMatcher,
    heap: Option<HeapIndex>,
    skip: &std::sync::Arc<std::collections::HashSet<u64>>,
    objects: &mut [WaitObject],
    notes: &mut Vec<String>,
) {
    let mut hops = Hops {
        skip: std::sync::Arc::clone(skip),
        ..Hops::default()
    };
    let code = Code::new(rt.binary().pclntab(), rt.bias(), rt.binary().image().arch);
    let mut cache = FrameCache::default();
    for p in parked {
        hops.seen.clear();
        let mut found: BTreeMap<usize, &'static str> = BTreeMap::new();
        for &c in &p.closures {
            if let Ok(bytes) = rt.memory().read_vec(c, (CLOSURE_WORDS * 8) as usize) {
                for w in words(&bytes).skip(1) {
                    matcher.matches(w, |i| {
                        found.insert(i, "deferred call");
                    });
                }
            }
        }
        // The stack is decoded again here rather than kept from the first pass: only
        // cores with objects no global reaches need it.
        let Some(view) = stack_view(rt, &code, &mut cache, p.gp) else {
            continue;
        };
        let (sp, hi) = (view.sp, view.hi);
        let len = hi.saturating_sub(sp).min(MAX_STACK_BYTES);
        let Ok(stack) = rt.memory().read_vec(sp, len as usize) else {
            continue;
        };
        let word_at = |addr: u64| -> Option<u64> {
            let off = usize::try_from(addr.checked_sub(sp)?).ok()?;
            let b = stack.get(off..off.checked_add(8)?)?;
            Some(u64::from_le_bytes(b.try_into().ok()?))
        };
        let mut values: Vec<u64> = Vec::new();
        let mut whole = !view.precise;
        if view.precise {
            let tab = rt.binary().pclntab();
            let mut ranges: Vec<(u64, u64)> = Vec::new();
            for &f in &view.frames {
                let known = live_slots(
                    tab,
                    rt.bias(),
                    f,
                    |a| values.extend(word_at(a)),
                    |lo, hi| ranges.push((lo, hi)),
                );
                if !known {
                    whole = true;
                    break;
                }
            }
            for (lo, end) in ranges {
                let mut a = lo & !7;
                while a < end.min(hi) {
                    values.extend(word_at(a));
                    // A range ending at the top of the address space would wrap.
                    let Some(next) = a.checked_add(8) else {
                        break;
                    };
                    a = next;
                }
            }
        }
        if whole {
            values = words(&stack).collect();
        }
        for w in values {
            matcher.matches(w, |i| {
                found.entry(i).or_insert("stack");
            });
            if let Some(h) = heap.filter(|_| !(w >= sp && w < hi)) {
                hop(rt, h, w, matcher, &mut hops, &mut |i| {
                    found.entry(i).or_insert("heap object");
                });
            }
        }
        for (i, via) in found {
            if let Some(o) = objects.get_mut(i) {
                o.holder_evidence.insert(p.id, via);
            }
        }
    }
    if hops.capped {
        notes.push(format!(
            "stopped following pointers from stacks after {MAX_HOPS} heap objects: \
             some goroutines may be reported stuck that are not"
        ));
    }
}

/// A goroutine's stack for the reference scan: its live part, its physical frames, and
/// whether the stack maps describe every frame (a goroutine parked at calls).
fn stack_view(rt: &Runtime, code: &Code<'_>, cache: &mut FrameCache, gp: u64) -> Option<StackView> {
    let g = rt.goroutine_at(code, gp, true, cache, &Limits::CAPS)?;
    let frames: Vec<FrameSpan> = g
        .frames
        .iter()
        .filter(|f| !f.inlined)
        .filter_map(|f| {
            Some(FrameSpan {
                pc: f.pc?,
                sp: f.sp?,
                fp: f.fp?,
            })
        })
        .collect();
    let sp = g
        .frames
        .first()
        .and_then(|f| f.sp)
        .filter(|&sp| sp >= g.stack_lo && sp < g.stack_hi)
        .unwrap_or(g.stack_hi);
    let precise = g.status.starts_with("waiting")
        && g.error.is_none()
        && g.system_frames.is_empty()
        && !frames.is_empty();
    Some(StackView {
        sp,
        hi: g.stack_hi,
        frames,
        precise,
    })
}

/// Blocked goroutines nothing that can run reaches (see [`Blocking::unreachable`]),
/// grouped by site and reason.
fn unreachable(
    rt: &Runtime,
    graph: Option<&HeapGraph>,
    parked: &[Parked],
    objects: &[WaitObject],
    semtable: Option<(u64, u64)>,
    records: &std::collections::HashSet<u64>,
) -> Vec<Leak> {
    let blocked: Vec<(u64, Vec<u64>)> = parked
        .iter()
        .filter(|p| matches!(p.wait, Wait::Blocked | Wait::Forever))
        .map(|p| {
            let addrs = p
                .objects
                .iter()
                .filter_map(|&i| objects.get(i))
                .map(|o| o.addr)
                .collect();
            (p.id, addrs)
        })
        .collect();
    let globals = rt.binary().moduledata().map(|md| {
        (
            md.noptrdata.min(md.data).wrapping_add(rt.bias()),
            md.enoptrbss.max(md.ebss).wrapping_add(rt.bias()),
        )
    });
    let always = |a: u64| globals.is_some_and(|(lo, hi)| a >= lo && a < hi);
    // The semaphore table points at every semaphore waited on: bookkeeping of the
    // runtime, not a reference a program holds.
    let skip_root = |r: &Root| {
        r.name == "runtime.semtable" || semtable.is_some_and(|(lo, hi)| r.addr >= lo && r.addr < hi)
    };
    let ids = match graph {
        Some(g) => g.unreachable_waiters(&blocked, &always, &skip_root, records),
        None => parked
            .iter()
            .filter(|p| p.wait == Wait::Forever)
            .map(|p| p.id)
            .collect(),
    };
    let id_index: FastMap<u64, usize> = parked.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    let mut sites: BTreeMap<(Site, String), Vec<usize>> = BTreeMap::new();
    for id in ids {
        if let Some(p) = id_index
            .get(&id)
            .and_then(|&i| parked.get(i).map(|p| (i, p)))
        {
            sites
                .entry((p.1.site.clone(), p.1.reason.clone()))
                .or_default()
                .push(p.0);
        }
    }
    let mut out: Vec<Leak> = sites
        .into_iter()
        .map(|((site, reason), list)| {
            let mut leak = make_leak(&site_text(&site), &reason, &list, parked, objects, true);
            let who = if leak.count == 1 {
                "1 goroutine".to_string()
            } else {
                format!("{} goroutines", leak.count)
            };
            leak.summary = format!(
                "{who} blocked in {reason} at {} on objects that no global and no goroutine \
                 that can run reaches",
                leak.site
            );
            leak
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.site.cmp(&b.site)));
    out
}

/// Deadlocks and leaks from the stuck set.
fn report(
    parked: &[Parked],
    objects: &[WaitObject],
    stuck: &[bool],
    id_index: &FastMap<u64, usize>,
    out: &mut Blocking,
) {
    let is_stuck = |pi: usize| stuck.get(pi).copied().unwrap_or(false);
    // Every goroutine of the program blocked for good: the runtime's own "all
    // goroutines are asleep", whatever each one waits on.
    let user: Vec<usize> = (0..parked.len())
        .filter(|&pi| parked.get(pi).is_some_and(|p| !p.system))
        .collect();
    if !user.is_empty()
        && user.iter().all(|&pi| is_stuck(pi))
        && user
            .iter()
            .any(|&pi| parked.get(pi).is_some_and(|p| p.wait == Wait::Blocked))
    {
        let (goroutines, objs) = ids_and_objects(&user, parked, objects);
        let parts: Vec<String> = user
            .iter()
            .filter_map(|&pi| parked.get(pi))
            .map(|p| format!("goroutine {} [{}]", p.id, p.reason))
            .collect();
        out.deadlocks.push(Deadlock {
            kind: "all goroutines asleep",
            summary: format!(
                "all goroutines asleep: no goroutine can run to release the others: {}",
                parts.join(", ")
            ),
            goroutines,
            objects: objs,
        });
        return;
    }
    let reportable: Vec<usize> = (0..parked.len())
        .filter(|&pi| is_stuck(pi) && parked.get(pi).is_some_and(|p| p.wait == Wait::Blocked))
        .collect();
    // Wait-for edges among stuck goroutines: waiter → holders of what it waits on.
    let mut edges: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for &pi in &reportable {
        let Some(p) = parked.get(pi) else { continue };
        let set = edges.entry(pi).or_default();
        for &i in &p.objects {
            for h in objects.get(i).map(|o| o.holders.as_slice()).unwrap_or(&[]) {
                if let Some(&hi) = id_index.get(h) {
                    if is_stuck(hi) && hi != pi {
                        set.insert(hi);
                    }
                }
            }
        }
    }
    // Weakly connected components.
    let mut component: HashMap<usize, usize> = HashMap::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut undirected: HashMap<usize, Vec<usize>> = HashMap::new();
    for (&a, bs) in &edges {
        for &b in bs {
            undirected.entry(a).or_default().push(b);
            undirected.entry(b).or_default().push(a);
        }
    }
    for &start in &reportable {
        if component.contains_key(&start) {
            continue;
        }
        let c = members.len();
        let mut list = Vec::new();
        let mut todo = vec![start];
        while let Some(n) = todo.pop() {
            if component.contains_key(&n) {
                continue;
            }
            component.insert(n, c);
            list.push(n);
            for &m in undirected.get(&n).map(|v| v.as_slice()).unwrap_or(&[]) {
                todo.push(m);
            }
        }
        list.sort_unstable();
        members.push(list);
    }
    let mut leaked: Vec<usize> = Vec::new();
    for list in &members {
        let cycle = find_cycle(list, &edges);
        let kinds: BTreeSet<&str> = list
            .iter()
            .filter_map(|&pi| parked.get(pi))
            .flat_map(|p| p.objects.iter())
            .filter_map(|&i| objects.get(i))
            .map(|o| o.kind)
            .collect();
        let writer_waits = list.iter().filter_map(|&pi| parked.get(pi)).any(|p| {
            p.reason == "sync.RWMutex.Lock"
                && p.objects
                    .iter()
                    .any(|&i| objects.get(i).is_some_and(|o| o.kind == "rwmutex"))
        });
        let kind = if let Some(cycle) = &cycle {
            let on_cycle: BTreeSet<&str> = cycle_objects(cycle, parked)
                .iter()
                .filter_map(|&i| objects.get(i))
                .map(|o| o.kind)
                .collect();
            if on_cycle.iter().all(|k| matches!(*k, "mutex" | "rwmutex")) {
                "lock cycle"
            } else if on_cycle.iter().all(|k| *k == "channel") {
                "channel cycle"
            } else {
                "wait cycle"
            }
        } else if kinds.contains("waitgroup") {
            "waitgroup never done"
        } else if writer_waits {
            "rwmutex writer behind reader"
        } else if kinds.contains("mutex") || kinds.contains("rwmutex") {
            "mutex never unlocked"
        } else if kinds.contains("cond") {
            "cond never signalled"
        } else if kinds.contains("semaphore") {
            "semaphore never released"
        } else {
            leaked.extend(list.iter().copied());
            continue;
        };
        let (goroutines, objs) = ids_and_objects(list, parked, objects);
        let summary = deadlock_summary(kind, list, cycle.as_deref(), parked, objects);
        out.deadlocks.push(Deadlock {
            kind,
            summary,
            goroutines,
            objects: objs,
        });
    }

    // Leaks: stuck on channels nobody else can reach, by site and reason.
    let mut sites: BTreeMap<(Site, String), Vec<usize>> = BTreeMap::new();
    for &pi in &leaked {
        if let Some(p) = parked.get(pi) {
            sites
                .entry((p.site.clone(), p.reason.clone()))
                .or_default()
                .push(pi);
        }
    }
    for p in parked
        .iter()
        .filter(|p| p.wait == Wait::Forever && p.reason != "select (no cases)")
    {
        let pi = id_index.get(&p.id).copied().unwrap_or(usize::MAX);
        sites
            .entry((p.site.clone(), p.reason.clone()))
            .or_default()
            .push(pi);
    }
    for ((site, reason), list) in sites {
        let leak = make_leak(&site_text(&site), &reason, &list, parked, objects, true);
        out.leaks.push(leak);
    }
    // Long waits at crowded sites, not proven stuck.
    let mut crowded: BTreeMap<(Site, String), Vec<usize>> = BTreeMap::new();
    for (pi, p) in parked.iter().enumerate() {
        if p.wait == Wait::Blocked
            && !is_stuck(pi)
            && p.minutes.is_some_and(|m| m >= LONG_WAIT_MINUTES)
        {
            crowded
                .entry((p.site.clone(), p.reason.clone()))
                .or_default()
                .push(pi);
        }
    }
    for ((site, reason), list) in crowded {
        if list.len() >= LONG_WAIT_COUNT {
            out.leaks.push(make_leak(
                &site_text(&site),
                &reason,
                &list,
                parked,
                objects,
                false,
            ));
        }
    }
    out.leaks.sort_by(|a, b| {
        b.stuck
            .cmp(&a.stuck)
            .then(b.count.cmp(&a.count))
            .then(a.site.cmp(&b.site))
    });
}

fn deadlock_summary(
    kind: &str,
    list: &[usize],
    cycle: Option<&[usize]>,
    parked: &[Parked],
    objects: &[WaitObject],
) -> String {
    let waits_on = |pi: usize| -> String {
        let Some(p) = parked.get(pi) else {
            return String::new();
        };
        let what: Vec<String> = p
            .objects
            .iter()
            .filter_map(|&i| objects.get(i))
            .map(|o| format!("{} {:#x}", o.type_name, o.addr))
            .collect();
        format!("goroutine {} waits on {}", p.id, what.join(" or "))
    };
    if let Some(cycle) = cycle {
        // Each goroutine of the cycle waits on something the next one holds.
        let mut parts = Vec::new();
        for (k, &pi) in cycle.iter().enumerate() {
            // The last goroutine waits on the first.
            let next = cycle
                .get(k.saturating_add(1))
                .or(cycle.first())
                .and_then(|&n| parked.get(n));
            let (Some(p), Some(next)) = (parked.get(pi), next) else {
                continue;
            };
            let held = p
                .objects
                .iter()
                .filter_map(|&i| objects.get(i))
                .find(|o| o.holders.contains(&next.id));
            parts.push(match held {
                Some(o) => format!(
                    "goroutine {} waits on {} {:#x} {}",
                    p.id,
                    o.type_name,
                    o.addr,
                    releasers(o.kind, &next.id.to_string())
                ),
                None => format!("{} (goroutine {} could release it)", waits_on(pi), next.id),
            });
        }
        return format!("{kind}: {}", parts.join("; "));
    }
    let parts: Vec<String> = list
        .iter()
        .filter_map(|&pi| parked.get(pi).map(|p| (pi, p)))
        .map(|(pi, p)| {
            let objs: Vec<&WaitObject> = p.objects.iter().filter_map(|&i| objects.get(i)).collect();
            // Readers queued behind a pending writer wait for that writer.
            if p.reason == "sync.RWMutex.RLock" {
                let writers: Vec<String> = list
                    .iter()
                    .filter_map(|&w| parked.get(w))
                    .filter(|w| {
                        w.reason == "sync.RWMutex.Lock"
                            && w.objects.iter().any(|i| p.objects.contains(i))
                    })
                    .map(|w| w.id.to_string())
                    .collect();
                if !writers.is_empty() {
                    return format!(
                        "{} behind writer goroutine {}",
                        waits_on(pi),
                        writers.join(", ")
                    );
                }
            }
            let holders: Vec<String> = objs
                .iter()
                .flat_map(|o| o.holders.iter())
                .map(|h| h.to_string())
                .collect();
            let kind = objs.first().map_or("mutex", |o| o.kind);
            if holders.is_empty() {
                format!("{} that no other goroutine can release", waits_on(pi))
            } else {
                format!("{} {}", waits_on(pi), releasers(kind, &holders.join(", ")))
            }
        })
        .collect();
    format!("{kind}: {}", parts.join("; "))
}

/// How an object's releasers relate to it, for summaries.
fn releasers(kind: &str, ids: &str) -> String {
    match kind {
        "mutex" | "rwmutex" => format!("held by goroutine {ids}"),
        _ => format!("that only goroutine {ids} can reach"),
    }
}

fn is_sema_reason(reason: &str) -> bool {
    reason.starts_with("sync.") || reason == "semacquire"
}

fn mutex_detail(state: i32) -> String {
    let waiters = state >> 3;
    let mut d = if state & 1 != 0 {
        "locked".to_string()
    } else {
        "unlocked".to_string()
    };
    if waiters > 0 {
        d.push_str(&format!(", {waiters} waiting"));
    }
    if state & 4 != 0 {
        d.push_str(", starving");
    }
    d
}

/// A cycle of the wait-for graph among `list`, as the goroutines on it in edge order.
fn find_cycle(list: &[usize], edges: &BTreeMap<usize, BTreeSet<usize>>) -> Option<Vec<usize>> {
    // Iterative depth-first search with colours; the first back edge closes a cycle.
    let mut colour: HashMap<usize, u8> = HashMap::new();
    for &start in list {
        if colour.contains_key(&start) {
            continue;
        }
        let mut path: Vec<usize> = Vec::new();
        let mut stack: Vec<(usize, Vec<usize>)> = vec![(
            start,
            edges
                .get(&start)
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default(),
        )];
        colour.insert(start, 1);
        path.push(start);
        while let Some((_, next)) = stack.last_mut() {
            match next.pop() {
                Some(n) => match colour.get(&n).copied() {
                    Some(1) => {
                        let at = path.iter().position(|&x| x == n)?;
                        return path.get(at..).map(|s| s.to_vec());
                    }
                    Some(_) => {}
                    None => {
                        colour.insert(n, 1);
                        path.push(n);
                        let succ = edges
                            .get(&n)
                            .map(|s| s.iter().copied().collect())
                            .unwrap_or_default();
                        stack.push((n, succ));
                    }
                },
                None => {
                    if let Some((done, _)) = stack.pop() {
                        colour.insert(done, 2);
                        path.pop();
                    }
                }
            }
        }
    }
    None
}

/// The objects the goroutines of a cycle wait on.
fn cycle_objects(cycle: &[usize], parked: &[Parked]) -> Vec<usize> {
    cycle
        .iter()
        .filter_map(|&pi| parked.get(pi))
        .flat_map(|p| p.objects.iter().copied())
        .collect()
}

/// The goroutine ids of `list` and the addresses of what they wait on, both sorted.
fn ids_and_objects(
    list: &[usize],
    parked: &[Parked],
    objects: &[WaitObject],
) -> (Vec<u64>, Vec<u64>) {
    let ps = || list.iter().filter_map(|&pi| parked.get(pi));
    let mut ids: Vec<u64> = ps().map(|p| p.id).collect();
    ids.sort_unstable();
    let mut addrs: Vec<u64> = ps()
        .flat_map(|p| p.objects.iter())
        .filter_map(|&i| objects.get(i))
        .map(|o| o.addr)
        .collect();
    addrs.sort_unstable();
    addrs.dedup();
    (ids, addrs)
}

fn make_leak(
    site: &str,
    reason: &str,
    list: &[usize],
    parked: &[Parked],
    objects: &[WaitObject],
    stuck: bool,
) -> Leak {
    let ps: Vec<&Parked> = list.iter().filter_map(|&pi| parked.get(pi)).collect();
    let (goroutines, objs) = ids_and_objects(list, parked, objects);
    let minutes: Vec<i64> = ps.iter().filter_map(|p| p.minutes).collect();
    let (min, max) = (minutes.iter().min().copied(), minutes.iter().max().copied());
    let n = goroutines.len();
    let who = if n == 1 {
        "1 goroutine".to_string()
    } else {
        format!("{n} goroutines")
    };
    let summary = if stuck {
        if reason.contains("nil chan") {
            format!("{who} blocked forever in {reason} at {site}")
        } else {
            format!("{who} blocked in {reason} at {site} on channels no other goroutine can reach")
        }
    } else {
        format!(
            "{who} waiting {}+ minutes in {reason} at {site}",
            min.unwrap_or(LONG_WAIT_MINUTES)
        )
    };
    Leak {
        kind: reason.to_string(),
        site: site.to_string(),
        count: n,
        goroutines,
        objects: objs,
        stuck,
        min_wait_minutes: min,
        max_wait_minutes: max,
        summary,
    }
}
