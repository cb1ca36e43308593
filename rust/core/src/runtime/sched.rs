//! The scheduler and the memory statistics of a process: P states and run queues, the global
//! run queue, the GC phase, and what `runtime.ReadMemStats` would report.
//!
//! Where each value lives (the same in every release goscope supports, go1.21 to go1.27):
//!
//! - The Ps are `runtime.allp` ([`Runtime::ps`]); the global run queue's length is
//!   `sched.runqsize`, which go1.25 moved into the queue itself (`sched.runq.size`).
//! - The GC phase is `runtime.gcphase` (`_GCoff`, `_GCmark`, `_GCmarktermination`). Only
//!   `setGCPhase` stores to it, an atomic store followed by a load of the same variable
//!   (`LEAQ runtime.gcphase(SB), R; XCHGL E, (R); MOVL runtime.gcphase(SB), E'`) and then the
//!   store of `writeBarrier.enabled`; the compiler inlines it into the GC's own functions. Without
//!   a symbol table goscope finds that sequence in those functions (named by pclntab) and reads
//!   the variable it stores to, checked against the write barrier flag stored next to it.
//! - `readmemstats_m` (runtime/mstats.go) computes `MemStats` from `memstats.heapStats` (a
//!   `consistentHeapStats`: three `heapStatsDelta` shards whose sum is the total), from
//!   `gcController` (`heapInUse`, `heapFree`, `heapReleased`) and from the `*_sys` counters of
//!   `memstats`, after flushing every P's mcache: allocations from a span an mcache holds are
//!   only counted when the span goes back. goscope sums the shards and adds what a flush would
//!   add (`allocCount - allocCountBeforeCache` of each cached span, the mcache's tiny
//!   allocations), so its figures are what `ReadMemStats` would have returned at the moment the
//!   core was written. Without a symbol table, `memstats` and `gcController` are found by a scan
//!   of .noptrbss and .bss for the one pair of candidates that agree with each other the way the
//!   runtime's own consistency check (`doubleCheckReadMemStats`) says they must:
//!   `gcController.heapInUse` equals the shards' `inHeap`, and `heapInUse + heapFree` equals
//!   `committed - inStacks - inWorkBufs - inPtrScalarBits`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{word, word32, PInfo, Runtime};
use crate::arch::GcPhaseStore;
use crate::error::{Error, ErrorKind, Result};
use crate::layout::RuntimeLayout;
use crate::target::MemoryExt;

/// `class_to_size` (go1.21 to go1.24) and `internal/runtime/gc.SizeClassToSize` (go1.25 on):
/// the same 68 size classes in every supported release.
const CLASS_TO_SIZE: [u16; 68] = [
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320,
    352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792,
    2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728,
    10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672,
    32768,
];

/// Bounds on what the statistics of a real process hold, for the scans.
const MAX_BYTES: u64 = 1 << 50;
const MAX_COUNT: u64 = 1 << 50;
/// Unix nanoseconds of 2001-09-09 and 2100-01-01: a GC's end time lies between.
const UNIX_NANOS: std::ops::Range<u64> = 1_000_000_000_000_000_000..4_102_444_800_000_000_000;
/// Candidates of each kind a scan keeps before it gives up as ambiguous.
const MAX_CANDIDATES: usize = 64;
/// The largest section a scan reads.
const MAX_SCAN: u64 = 64 << 20;

/// The scheduler and memory section of a report.
#[derive(Debug, Clone, Serialize)]
pub struct Scheduler {
    /// The number of Ps.
    pub gomaxprocs: usize,
    pub ps: Vec<PInfo>,
    /// How many Ps are in each state (`idle`, `running`, `syscall`, `gcstop`, `dead`).
    pub p_states: BTreeMap<String, usize>,
    /// Goroutines waiting in the Ps' local run queues (`runnext` included).
    pub runq_local: u64,
    /// Goroutines waiting in the global run queue; None when it cannot be read.
    pub runq_global: Option<u64>,
    pub gc: GcState,
    /// What `runtime.ReadMemStats` would report; None when it cannot be read.
    pub memstats: Option<MemStats>,
    /// Why a value is missing, by the name of the value (`runq_global`, `gc_phase`,
    /// `memstats`).
    pub unavailable: BTreeMap<String, String>,
    /// How each runtime variable read was located: `symbol` (the symbol table), `scan` (a
    /// checked scan of the data sections) or `code` (the instructions that store to it).
    pub found: BTreeMap<String, String>,
}

/// The garbage collector's state.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcState {
    /// `off`, `mark` or `mark termination`.
    pub phase: Option<String>,
    /// GOGC (`gcController.gcPercent`); -1 when the GC is off.
    pub gc_percent: Option<i32>,
    /// GOMEMLIMIT in bytes (`gcController.memoryLimit`); `i64::MAX` when there is none.
    pub memory_limit: Option<i64>,
}

/// `runtime.MemStats` fields, named in snake case (`heap_inuse` is `HeapInuse`), as
/// `readmemstats_m` computes them.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct MemStats {
    pub heap_alloc: u64,
    pub heap_inuse: u64,
    pub heap_objects: u64,
    pub heap_sys: u64,
    pub heap_idle: u64,
    pub heap_released: u64,
    pub stack_inuse: u64,
    pub sys: u64,
    pub total_alloc: u64,
    pub mallocs: u64,
    pub frees: u64,
    pub num_gc: u32,
    pub num_forced_gc: u32,
    pub pause_total_ns: u64,
    /// When the last GC ended, in Unix nanoseconds (`LastGC`); 0 before the first.
    pub last_gc_unix: u64,
}

/// Offsets of the statistics, from the layout.
#[derive(Debug, Clone)]
struct StatsLayout {
    page: u64,
    mstats: MstatsOffsets,
    controller: ControllerOffsets,
    cache: Option<CacheOffsets>,
}

#[derive(Debug, Clone)]
struct MstatsOffsets {
    size: u64,
    /// `heapStats.stats[0]`, the shard size and the number of shards.
    shards: u64,
    shard_size: u64,
    nshards: u64,
    gen: u64,
    delta: DeltaOffsets,
    sys: [u64; 6],
    last_gc_unix: u64,
    pause_total_ns: u64,
    pause_end: u64,
    npause: u64,
    numgc: u64,
    numforcedgc: u64,
    enablegc: u64,
}

#[derive(Debug, Clone)]
struct DeltaOffsets {
    committed: u64,
    released: u64,
    in_heap: u64,
    in_stacks: u64,
    in_work_bufs: u64,
    in_ptr_scalar_bits: Option<u64>,
    tiny_alloc_count: u64,
    large_alloc: u64,
    large_alloc_count: u64,
    small_alloc_count: u64,
    large_free: u64,
    large_free_count: u64,
    small_free_count: u64,
}

#[derive(Debug, Clone)]
struct ControllerOffsets {
    size: u64,
    gc_percent: u64,
    memory_limit: u64,
    heap_in_use: u64,
    heap_released: u64,
    heap_free: u64,
    total_alloc: u64,
    total_free: u64,
}

/// Offsets for the flush of the Ps' mcaches.
#[derive(Debug, Clone)]
struct CacheOffsets {
    p_mcache: u64,
    alloc: u64,
    nalloc: u64,
    tiny_allocs: u64,
    alloc_count: u64,
    alloc_count_before_cache: u64,
}

impl StatsLayout {
    fn new(layout: &RuntimeLayout) -> Result<StatsLayout> {
        let gap = |what: String| {
            Error::new(
                ErrorKind::Unsupported,
                format!("the {} layout has no {what}", layout.go_version()),
            )
        };
        let need = |t: &str, f: &str| layout.offset(t, f).map_err(|_| gap(format!("{t}.{f}")));
        let size = |t: &str| layout.size(t).map_err(|_| gap(t.to_string()));
        let d = |f: &str| need("runtime.heapStatsDelta", f);
        let small = layout.field("runtime.heapStatsDelta", "smallAllocCount")?;
        if small.len != Some(CLASS_TO_SIZE.len() as u64) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "heapStatsDelta.smallAllocCount has {:?} size classes, goscope knows {}",
                    small.len,
                    CLASS_TO_SIZE.len()
                ),
            ));
        }
        let stats = layout.field("runtime.consistentHeapStats", "stats")?;
        let heap_stats = need("runtime.mstats", "heapStats")?;
        let pause_end = layout.field("runtime.mstats", "pause_end")?;
        let m = |f: &str| need("runtime.mstats", f);
        let c = |f: &str| need("runtime.gcControllerState", f);
        let page = ["_PageSize", "pageSize"]
            .iter()
            .find_map(|n| layout.constant(n))
            .and_then(|v| u64::try_from(v).ok())
            .filter(|&v| v.is_power_of_two())
            .unwrap_or(8192);
        let cache = (|| {
            let f = |t: &str, n: &str| layout.offset(t, n).ok();
            Some(CacheOffsets {
                p_mcache: f("runtime.p", "mcache")?,
                alloc: f("runtime.mcache", "alloc")?,
                nalloc: layout.field("runtime.mcache", "alloc").ok()?.len?,
                tiny_allocs: f("runtime.mcache", "tinyAllocs")?,
                alloc_count: f("runtime.mspan", "allocCount")?,
                alloc_count_before_cache: f("runtime.mspan", "allocCountBeforeCache")?,
            })
        })();
        Ok(StatsLayout {
            page,
            mstats: MstatsOffsets {
                size: size("runtime.mstats")?,
                // A garbage layout's offset saturates, and every read at it then fails.
                shards: heap_stats.saturating_add(stats.offset),
                shard_size: size("runtime.heapStatsDelta")?,
                nshards: stats.len.unwrap_or(0),
                gen: heap_stats.saturating_add(need("runtime.consistentHeapStats", "gen")?),
                delta: DeltaOffsets {
                    committed: d("committed")?,
                    released: d("released")?,
                    in_heap: d("inHeap")?,
                    in_stacks: d("inStacks")?,
                    in_work_bufs: d("inWorkBufs")?,
                    in_ptr_scalar_bits: d("inPtrScalarBits").ok(),
                    tiny_alloc_count: d("tinyAllocCount")?,
                    large_alloc: d("largeAlloc")?,
                    large_alloc_count: d("largeAllocCount")?,
                    small_alloc_count: small.offset,
                    large_free: d("largeFree")?,
                    large_free_count: d("largeFreeCount")?,
                    small_free_count: d("smallFreeCount")?,
                },
                sys: [
                    m("stacks_sys")?,
                    m("mspan_sys")?,
                    m("mcache_sys")?,
                    m("buckhash_sys")?,
                    m("gcMiscSys")?,
                    m("other_sys")?,
                ],
                last_gc_unix: m("last_gc_unix")?,
                pause_total_ns: m("pause_total_ns")?,
                pause_end: pause_end.offset,
                npause: pause_end.len.unwrap_or(0),
                numgc: m("numgc")?,
                numforcedgc: m("numforcedgc")?,
                enablegc: m("enablegc")?,
            },
            controller: ControllerOffsets {
                size: size("runtime.gcControllerState")?,
                gc_percent: c("gcPercent")?,
                memory_limit: c("memoryLimit")?,
                heap_in_use: c("heapInUse")?,
                heap_released: c("heapReleased")?,
                heap_free: c("heapFree")?,
                total_alloc: c("totalAlloc")?,
                total_free: c("totalFree")?,
            },
            cache,
        })
    }
}

/// `runtime.memstats` as read: the heap shards summed, and the counters `MemStats` needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Mstats {
    committed: i64,
    released: i64,
    in_heap: i64,
    in_stacks: i64,
    in_work_bufs: i64,
    in_ptr_scalar_bits: i64,
    tiny_alloc_count: u64,
    large_alloc: u64,
    large_alloc_count: u64,
    small_alloc_count: Vec<u64>,
    large_free: u64,
    large_free_count: u64,
    small_free_count: Vec<u64>,
    /// `stacks_sys`, `mspan_sys`, `mcache_sys`, `buckhash_sys`, `gcMiscSys`, `other_sys`.
    sys: [u64; 6],
    last_gc_unix: u64,
    pause_total_ns: u64,
    numgc: u32,
    numforcedgc: u32,
    enablegc: u8,
}

/// `runtime.gcController` as read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Controller {
    gc_percent: i32,
    memory_limit: i64,
    heap_in_use: u64,
    heap_released: u64,
    heap_free: u64,
    total_alloc: u64,
    total_free: u64,
}

/// Little-endian u64 at `base + off` of a buffer.
fn at(buf: &[u8], base: u64, off: u64) -> Option<u64> {
    word(buf, base.checked_add(off)?)
}

fn at32(buf: &[u8], base: u64, off: u64) -> Option<u32> {
    word32(buf, base.checked_add(off)?)
}

impl MstatsOffsets {
    /// Decodes an mstats at `base` of `buf`; None when `buf` is too short, or when
    /// `plausible` asks for the checks of a scan and they fail.
    fn decode(&self, buf: &[u8], base: u64, page: u64, plausible: bool) -> Option<Mstats> {
        let d = &self.delta;
        let gen = at32(buf, base, self.gen)?;
        let enablegc = *buf.get(usize::try_from(base.checked_add(self.enablegc)?).ok()?)?;
        // The cheap checks first: a scan tries every word of the data sections.
        if plausible && (gen > 2 || enablegc != 1) {
            return None;
        }
        let mut m = Mstats {
            small_alloc_count: vec![0; CLASS_TO_SIZE.len()],
            small_free_count: vec![0; CLASS_TO_SIZE.len()],
            enablegc,
            ..Mstats::default()
        };
        for shard in 0..self.nshards.min(8) {
            let s = shard
                .checked_mul(self.shard_size)
                .and_then(|o| o.checked_add(self.shards))
                .and_then(|o| base.checked_add(o))?;
            let signed = |off: u64| at(buf, s, off).map(|v| v as i64);
            let count = |off: u64| at(buf, s, off).filter(|&v| !plausible || v < MAX_COUNT);
            // The memory deltas of one shard may be negative; only their sum may not.
            m.committed = m.committed.wrapping_add(signed(d.committed)?);
            m.released = m.released.wrapping_add(signed(d.released)?);
            m.in_heap = m.in_heap.wrapping_add(signed(d.in_heap)?);
            m.in_stacks = m.in_stacks.wrapping_add(signed(d.in_stacks)?);
            m.in_work_bufs = m.in_work_bufs.wrapping_add(signed(d.in_work_bufs)?);
            if let Some(off) = d.in_ptr_scalar_bits {
                m.in_ptr_scalar_bits = m.in_ptr_scalar_bits.wrapping_add(signed(off)?);
            }
            m.tiny_alloc_count = m.tiny_alloc_count.wrapping_add(count(d.tiny_alloc_count)?);
            m.large_alloc = m.large_alloc.wrapping_add(count(d.large_alloc)?);
            m.large_alloc_count = m
                .large_alloc_count
                .wrapping_add(count(d.large_alloc_count)?);
            m.large_free = m.large_free.wrapping_add(count(d.large_free)?);
            m.large_free_count = m.large_free_count.wrapping_add(count(d.large_free_count)?);
            for (class, (a, f)) in m
                .small_alloc_count
                .iter_mut()
                .zip(m.small_free_count.iter_mut())
                .enumerate()
            {
                let class = class as u64;
                let slot = class.wrapping_mul(8);
                let alloc = count(d.small_alloc_count.checked_add(slot)?)?;
                let free = count(d.small_free_count.checked_add(slot)?)?;
                // Size class 0 is for large objects, which are counted apart.
                if plausible && class == 0 && (alloc != 0 || free != 0) {
                    return None;
                }
                *a = a.wrapping_add(alloc);
                *f = f.wrapping_add(free);
            }
        }
        for (v, off) in m.sys.iter_mut().zip(self.sys) {
            *v = at(buf, base, off)?;
        }
        m.last_gc_unix = at(buf, base, self.last_gc_unix)?;
        m.pause_total_ns = at(buf, base, self.pause_total_ns)?;
        m.numgc = at32(buf, base, self.numgc)?;
        m.numforcedgc = at32(buf, base, self.numforcedgc)?;
        if plausible && !self.plausible(&m, buf, base, page) {
            return None;
        }
        Some(m)
    }

    /// What every mstats of a running program satisfies.
    fn plausible(&self, m: &Mstats, buf: &[u8], base: u64, page: u64) -> bool {
        let pages = [
            m.committed,
            m.released,
            m.in_heap,
            m.in_stacks,
            m.in_work_bufs,
            m.in_ptr_scalar_bits,
        ];
        if !pages
            .iter()
            .all(|&v| v >= 0 && (v as u64) < MAX_BYTES && (v as u64).is_multiple_of(page))
        {
            return false;
        }
        // Every process has heap and stack spans, and all of them are committed memory.
        let used = m
            .in_heap
            .saturating_add(m.in_stacks)
            .saturating_add(m.in_work_bufs)
            .saturating_add(m.in_ptr_scalar_bits);
        if m.in_heap == 0 || m.in_stacks == 0 || m.committed < used {
            return false;
        }
        // The runtime has allocated spans, mcaches, GC metadata and more off the heap, and
        // has enabled the GC (gcenable, before any package's init). Together with the shards
        // these fields tell the real mstats from a place one shard off, whose sums are the
        // same when a shard is clear.
        let [_, mspan, mcache, _, gc_misc, other] = m.sys;
        if m.sys.iter().any(|&v| v >= MAX_BYTES)
            || [mspan, mcache, gc_misc, other].contains(&0)
            || m.enablegc != 1
        {
            return false;
        }
        // Each count is below MAX_COUNT here, so the sums do not overflow.
        let allocs: u64 = m
            .small_alloc_count
            .iter()
            .sum::<u64>()
            .saturating_add(m.large_alloc_count);
        let frees: u64 = m
            .small_free_count
            .iter()
            .sum::<u64>()
            .saturating_add(m.large_free_count);
        if allocs < frees || m.large_alloc < m.large_free || m.numforcedgc > m.numgc {
            return false;
        }
        // gcMarkTermination records each GC's end in last_gc_unix and in the circular
        // pause_end, then counts it in numgc.
        let end = |i: u64| {
            let slot = i.checked_rem(self.npause).unwrap_or(0);
            at(
                buf,
                base,
                self.pause_end.saturating_add(slot.saturating_mul(8)),
            )
        };
        let n = u64::from(m.numgc);
        if n == 0 {
            m.last_gc_unix == 0 && m.pause_total_ns == 0 && end(0) == Some(0)
        } else {
            UNIX_NANOS.contains(&m.last_gc_unix)
                && (end(n.wrapping_sub(1)) == Some(m.last_gc_unix)
                    || end(n) == Some(m.last_gc_unix))
                && (n >= self.npause || end(n).is_some_and(|e| e == 0 || e == m.last_gc_unix))
        }
    }
}

impl ControllerOffsets {
    fn decode(&self, buf: &[u8], base: u64) -> Option<Controller> {
        let r = |off: u64| at(buf, base, off);
        Some(Controller {
            gc_percent: at32(buf, base, self.gc_percent)? as i32,
            memory_limit: r(self.memory_limit)? as i64,
            heap_in_use: r(self.heap_in_use)?,
            heap_released: r(self.heap_released)?,
            heap_free: r(self.heap_free)?,
            total_alloc: r(self.total_alloc)?,
            total_free: r(self.total_free)?,
        })
    }
}

impl Controller {
    /// Whether this gcController and `m` agree as `doubleCheckReadMemStats` says they must.
    fn agrees_with(&self, m: &Mstats, page: u64) -> bool {
        let retained = m
            .committed
            .wrapping_sub(m.in_stacks)
            .wrapping_sub(m.in_work_bufs)
            .wrapping_sub(m.in_ptr_scalar_bits);
        self.gc_percent >= -1
            && self.memory_limit > 0
            && [self.heap_in_use, self.heap_released, self.heap_free]
                .iter()
                .all(|&v| v < MAX_BYTES && v.is_multiple_of(page))
            && self.total_alloc >= self.total_free
            && self.heap_in_use == m.in_heap as u64
            && self.heap_in_use.checked_add(self.heap_free) == Some(retained as u64)
    }
}

/// What a flush of every P's mcache would add to the heap statistics.
#[derive(Debug, Clone, Copy, Default)]
struct Unflushed {
    objects: u64,
    bytes: u64,
    tiny: u64,
}

impl Runtime {
    /// The scheduler and memory section: Ps, run queues, GC phase and memory statistics.
    /// `layout` is the runtime layout this runtime was decoded with.
    pub fn scheduler(&self, layout: &RuntimeLayout) -> Scheduler {
        self.scheduler_found(layout, true)
    }

    /// The scheduler section with every runtime variable found as in a stripped binary,
    /// ignoring the symbol table: lets tests check the scans against the symbols of
    /// unstripped binaries.
    #[doc(hidden)]
    pub fn scheduler_by_scan(&self, layout: &RuntimeLayout) -> Scheduler {
        self.scheduler_found(layout, false)
    }

    fn scheduler_found(&self, layout: &RuntimeLayout, symbols: bool) -> Scheduler {
        let ps = self.ps();
        let mut s = Scheduler {
            gomaxprocs: ps.len(),
            p_states: BTreeMap::new(),
            runq_local: ps.iter().map(|p| u64::from(p.runq)).sum(),
            runq_global: None,
            gc: GcState::default(),
            memstats: None,
            unavailable: BTreeMap::new(),
            found: BTreeMap::new(),
            ps,
        };
        for p in &s.ps {
            let n = s.p_states.entry(p.status.clone()).or_default();
            *n = n.saturating_add(1);
        }
        let mut note = |what: &str, why: Error| {
            s.unavailable.insert(what.to_string(), why.to_string());
        };
        match self.global_runq(layout) {
            Ok(n) => s.runq_global = Some(n),
            Err(e) => note("runq_global", e),
        }
        match self.gc_phase(layout, symbols) {
            Ok((phase, how)) => {
                s.gc.phase = Some(phase);
                s.found.insert("runtime.gcphase".into(), how.into());
            }
            Err(e) => note("gc_phase", e),
        }
        match self.memory_stats(layout, symbols) {
            Ok((stats, controller, how)) => {
                s.memstats = Some(stats);
                s.gc.gc_percent = Some(controller.gc_percent);
                s.gc.memory_limit = Some(controller.memory_limit);
                s.found.insert("runtime.memstats".into(), how.into());
                s.found.insert("runtime.gcController".into(), how.into());
            }
            Err(e) => note("memstats", e),
        }
        if self.sched.is_some() {
            let how = if self.symbol("runtime.sched").is_some() {
                "symbol"
            } else {
                "scan"
            };
            s.found.insert("runtime.sched".into(), how.into());
        }
        s
    }

    /// `sched.runqsize` (up to go1.24) or `sched.runq.size` (go1.25 on).
    fn global_runq(&self, layout: &RuntimeLayout) -> Result<u64> {
        // Every Go process has a runtime.sched: when neither its symbol nor the checked
        // scan of .bss finds it, the data sections do not hold what a runtime holds.
        let sched = self.sched.ok_or_else(|| {
            Error::corrupt("runtime.sched was not found (no symbol, and no .bss scan matched)")
        })?;
        let off = ["runqsize", "runq.size"]
            .iter()
            .find_map(|f| layout.offset("runtime.schedt", f).ok())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Unsupported,
                    "the layout has neither schedt.runqsize nor schedt.runq.size",
                )
            })?;
        let addr = sched.wrapping_add(off);
        let n = self
            .mem
            .read_i32(addr)
            .map_err(|e| e.context("reading the global run queue's length"))?;
        u64::try_from(n).map_err(|_| {
            Error::corrupt(format!("the global run queue's length reads {n}")).at(addr)
        })
    }

    /// The GC phase's name, and how `runtime.gcphase` was found.
    fn gc_phase(&self, layout: &RuntimeLayout, symbols: bool) -> Result<(String, &'static str)> {
        let names = [
            ("_GCoff", "off"),
            ("_GCmark", "mark"),
            ("_GCmarktermination", "mark termination"),
        ];
        let name_of = |v: u32| {
            names
                .iter()
                .find(|(c, _)| layout.constant(c) == Some(i64::from(v)))
                .map(|(_, n)| n.to_string())
        };
        if let Some(addr) = self.symbol("runtime.gcphase").filter(|_| symbols) {
            let v = self
                .mem
                .read_u32(addr)
                .map_err(|e| e.context("reading runtime.gcphase"))?;
            return name_of(v).map(|n| (n, "symbol")).ok_or_else(|| {
                Error::corrupt(format!("runtime.gcphase holds {v}, which is no GC phase")).at(addr)
            });
        }
        let sites = self.gcphase_stores();
        let mut targets: Vec<u64> = sites.iter().map(|s| s.target).collect();
        targets.sort_unstable();
        targets.dedup();
        // Code goscope does not recognise is a limit of goscope, not broken data.
        let [target] = targets[..] else {
            return Err(Error::new(
                ErrorKind::Unsupported,
                if targets.is_empty() {
                    "no symbol table, and no store to the GC phase found in the GC's code"
                        .to_string()
                } else {
                    format!(
                        "no symbol table, and the GC's code stores its phase to {} different places",
                        targets.len()
                    )
                },
            ));
        };
        let addr = target.wrapping_add(self.bias);
        let v = self
            .mem
            .read_u32(addr)
            .map_err(|e| e.context(&format!("reading the GC phase at {target:#x}")))?;
        let name = name_of(v).ok_or_else(|| {
            Error::corrupt(format!(
                "the GC phase found at {target:#x} holds {v}, which is no GC phase"
            ))
            .at(addr)
        })?;
        // The write barrier is on exactly in the mark phases; setGCPhase stores the flag
        // right after the phase.
        let marking = name != "off";
        for flag in sites.iter().filter_map(|s| s.write_barrier) {
            let Ok(b) = self.mem.read_u8(flag.wrapping_add(self.bias)) else {
                continue;
            };
            if b > 1 || (b == 1) != marking {
                return Err(Error::corrupt(format!(
                    "the GC phase found at {target:#x} ({name}) disagrees with the write barrier flag at {flag:#x} ({b})"
                ))
                .at(addr));
            }
        }
        Ok((name, "code"))
    }

    /// The stores of `setGCPhase` in the GC's functions (file addresses).
    fn gcphase_stores(&self) -> Vec<GcPhaseStore> {
        let Some(md) = self.binary.moduledata() else {
            return Vec::new();
        };
        let data = [(md.noptrbss, md.enoptrbss), (md.bss, md.ebss)];
        let in_data = |a: u64| data.iter().any(|&(lo, hi)| a >= lo && a < hi);
        let image = self.binary.image();
        let arch = image.arch;
        let mut out = Vec::new();
        for (name, entry, end) in self.binary.functions() {
            if !(name.starts_with("runtime.gc") || name == "runtime.setGCPhase") {
                continue;
            }
            let Some(code) = image.data_from(entry) else {
                continue;
            };
            let len = usize::try_from(end.saturating_sub(entry))
                .unwrap_or(0)
                .min(1 << 20);
            let Some(code) = code.get(..len) else {
                continue;
            };
            out.extend(
                arch.gc_phase_stores(code, entry)
                    .into_iter()
                    .filter(|s| in_data(s.target) && s.target.is_multiple_of(4))
                    .map(|mut s| {
                        s.write_barrier = s.write_barrier.filter(|&w| in_data(w));
                        s
                    }),
            );
        }
        out
    }

    /// `MemStats` as `readmemstats_m` would compute it, the gcController it used, and how
    /// both were found.
    fn memory_stats(
        &self,
        layout: &RuntimeLayout,
        symbols: bool,
    ) -> Result<(MemStats, Controller, &'static str)> {
        let l = StatsLayout::new(layout)?;
        let (m, c, how) = match (
            self.symbol("runtime.memstats"),
            self.symbol("runtime.gcController"),
        ) {
            (Some(ms), Some(gc)) if symbols => {
                let buf = self
                    .mem
                    .read_vec(ms, l.mstats.size as usize)
                    .map_err(|e| e.context("reading runtime.memstats"))?;
                let m = l.mstats.decode(&buf, 0, l.page, false).ok_or_else(|| {
                    Error::truncated("runtime.memstats is shorter than its layout").at(ms)
                })?;
                let buf = self
                    .mem
                    .read_vec(gc, l.controller.size as usize)
                    .map_err(|e| e.context("reading runtime.gcController"))?;
                let c = l.controller.decode(&buf, 0).ok_or_else(|| {
                    Error::truncated("runtime.gcController is shorter than its layout").at(gc)
                })?;
                (m, c, "symbol")
            }
            _ => {
                let (m, c) = self.scan_memstats(&l)?;
                (m, c, "scan")
            }
        };
        let extra = self.unflushed(&l)?;
        Ok((memstats(&m, &c, extra), c, how))
    }

    /// Finds `memstats` and `gcController` in .noptrbss and .bss: the one pair that agrees.
    fn scan_memstats(&self, l: &StatsLayout) -> Result<(Mstats, Controller)> {
        let md = self.binary.moduledata().ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                "no symbol table, and no moduledata to find the data sections",
            )
        })?;
        let mut sections = Vec::new();
        for (lo, hi) in [(md.noptrbss, md.enoptrbss), (md.bss, md.ebss)] {
            let len = hi.saturating_sub(lo).min(MAX_SCAN);
            if let Ok(buf) = self.mem.read_vec(lo.wrapping_add(self.bias), len as usize) {
                sections.push(buf);
            }
        }
        let mut stats = Vec::new();
        for buf in &sections {
            let mut i = 0u64;
            while i.wrapping_add(l.mstats.size) <= buf.len() as u64 && stats.len() < MAX_CANDIDATES
            {
                if let Some(m) = l.mstats.decode(buf, i, l.page, true) {
                    stats.push(m);
                }
                i = i.saturating_add(8);
            }
        }
        // Every process has both structures, so finding none that passes the checks means the
        // sections do not hold what a runtime holds; finding several is goscope's limit.
        if stats.is_empty() {
            return Err(Error::corrupt(
                "no symbol table, and no memory statistics (runtime.memstats) found in .noptrbss or .bss",
            ));
        }
        // Distinct pairs: a copy of both structures would be as good as the originals.
        let mut pairs: Vec<(Mstats, Controller)> = Vec::new();
        for buf in &sections {
            let mut i = 0u64;
            while i.wrapping_add(l.controller.size) <= buf.len() as u64
                && pairs.len() < MAX_CANDIDATES
            {
                if let Some(c) = l.controller.decode(buf, i) {
                    for m in stats.iter().filter(|m| c.agrees_with(m, l.page)) {
                        if !pairs.iter().any(|(pm, pc)| pm == m && *pc == c) {
                            pairs.push((m.clone(), c));
                        }
                    }
                }
                i = i.saturating_add(8);
            }
        }
        match &pairs[..] {
            [(m, c)] => Ok((m.clone(), *c)),
            [] => Err(Error::corrupt(format!(
                "no symbol table, and none of the {} candidates for runtime.memstats agrees with a gcController",
                stats.len()
            ))),
            _ => Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "no symbol table, and {} pairs of runtime.memstats and gcController candidates agree: ambiguous",
                    pairs.len()
                ),
            )),
        }
    }

    /// What flushing every P's mcache would count: the objects allocated from the spans the
    /// mcaches hold, and their tiny allocations.
    fn unflushed(&self, l: &StatsLayout) -> Result<Unflushed> {
        let Some(o) = &l.cache else {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "the layout lacks p.mcache, mcache.alloc or the mspan allocation counts",
            ));
        };
        let mut u = Unflushed::default();
        for (i, &p) in self.allp.iter().enumerate() {
            let cache = self
                .mem
                .read_ptr(p.wrapping_add(o.p_mcache))
                .map_err(|e| e.context(&format!("reading P {i}'s mcache")))?;
            if cache == 0 {
                continue;
            }
            let tiny = self
                .mem
                .read_u64(cache.wrapping_add(o.tiny_allocs))
                .map_err(|e| e.context(&format!("reading P {i}'s mcache at {cache:#x}")))?;
            u.tiny = u.tiny.saturating_add(tiny);
            let spans = self
                .mem
                .read_vec(
                    cache.wrapping_add(o.alloc),
                    o.nalloc.min(1024).saturating_mul(8) as usize,
                )
                .map_err(|e| e.context(&format!("reading P {i}'s mcache at {cache:#x}")))?;
            for (class, span) in
                (0..o.nalloc.min(1024)).filter_map(|k| Some((k, word(&spans, k.wrapping_mul(8))?)))
            {
                if span == 0 {
                    continue;
                }
                let read = |off: u64| {
                    self.mem.read_u16(span.wrapping_add(off)).map_err(|e| {
                        e.context(&format!("reading the span at {span:#x} in P {i}'s mcache"))
                    })
                };
                let (count, before) = (read(o.alloc_count)?, read(o.alloc_count_before_cache)?);
                let used = count.checked_sub(before).ok_or_else(|| {
                    Error::corrupt(format!("the span at {span:#x} in P {i}'s mcache counts {count} objects, fewer than the {before} it had when cached"))
                    .at(span.wrapping_add(o.alloc_count))
                })?;
                // The span class is the size class and a noscan bit.
                let size = usize::try_from(class / 2)
                    .ok()
                    .and_then(|c| CLASS_TO_SIZE.get(c))
                    .copied()
                    .unwrap_or(0);
                u.objects = u.objects.saturating_add(u64::from(used));
                u.bytes = u
                    .bytes
                    .saturating_add(u64::from(used).saturating_mul(u64::from(size)));
            }
        }
        Ok(u)
    }
}

/// `readmemstats_m`'s arithmetic.
fn memstats(m: &Mstats, c: &Controller, extra: Unflushed) -> MemStats {
    let mut total_alloc = m.large_alloc.wrapping_add(extra.bytes);
    let mut total_free = m.large_free;
    let mut mallocs = m
        .large_alloc_count
        .wrapping_add(extra.objects)
        .wrapping_add(m.tiny_alloc_count)
        .wrapping_add(extra.tiny);
    let mut frees = m
        .large_free_count
        .wrapping_add(m.tiny_alloc_count)
        .wrapping_add(extra.tiny);
    for ((&a, &f), &size) in m
        .small_alloc_count
        .iter()
        .zip(&m.small_free_count)
        .zip(&CLASS_TO_SIZE)
    {
        total_alloc = total_alloc.wrapping_add(a.wrapping_mul(u64::from(size)));
        total_free = total_free.wrapping_add(f.wrapping_mul(u64::from(size)));
        mallocs = mallocs.wrapping_add(a);
        frees = frees.wrapping_add(f);
    }
    let stack_inuse = m.in_stacks as u64;
    let heap_sys = c
        .heap_in_use
        .wrapping_add(c.heap_free)
        .wrapping_add(c.heap_released);
    MemStats {
        heap_alloc: total_alloc.wrapping_sub(total_free),
        heap_inuse: c.heap_in_use,
        heap_objects: mallocs.wrapping_sub(frees),
        heap_sys,
        heap_idle: c.heap_free.wrapping_add(c.heap_released),
        heap_released: c.heap_released,
        stack_inuse,
        sys: heap_sys
            .wrapping_add(m.sys.iter().fold(0u64, |a, &v| a.wrapping_add(v)))
            .wrapping_add(stack_inuse)
            .wrapping_add(m.in_work_bufs as u64)
            .wrapping_add(m.in_ptr_scalar_bits as u64),
        total_alloc,
        mallocs,
        frees,
        num_gc: m.numgc,
        num_forced_gc: m.numforcedgc,
        pause_total_ns: m.pause_total_ns,
        last_gc_unix: m.last_gc_unix,
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    /// On every core whose binary has symbols, the scans of stripped binaries find the same
    /// GC phase, memory statistics and gcController as the symbols; on every core they find
    /// them at all.
    #[test]
    #[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
    fn scans_agree_with_symbols() {
        let mut compared = 0;
        for dir in super::super::fixture_cores() {
            let target = crate::session::Target::open_core(&dir.join("core"), &dir.join("bin"))
                .expect("fixture core opens");
            let rt = target.runtime();
            let scanned = rt.scheduler_by_scan(target.layout());
            let name = dir.display();
            assert!(
                scanned.unavailable.is_empty(),
                "{name}: {:?}",
                scanned.unavailable
            );
            // runtime.sched is found when the runtime is decoded, by its symbol if it has one.
            assert!(
                scanned
                    .found
                    .iter()
                    .all(|(what, how)| what == "runtime.sched" || how == "scan" || how == "code"),
                "{name}: {:?}",
                scanned.found
            );
            if rt.symbol("runtime.memstats").is_none() {
                continue;
            }
            let named = rt.scheduler(target.layout());
            assert_eq!(named.memstats, scanned.memstats, "{name}");
            assert_eq!(named.gc.phase, scanned.gc.phase, "{name}");
            assert_eq!(named.gc.gc_percent, scanned.gc.gc_percent, "{name}");
            assert_eq!(named.gc.memory_limit, scanned.gc.memory_limit, "{name}");
            assert_eq!(
                named.found.get("runtime.memstats").map(String::as_str),
                Some("symbol")
            );
            compared += 1;
        }
        assert!(compared > 0, "no fixture core has symbols");
    }

    fn put(buf: &mut [u8], off: u64, v: u64) {
        let off = off as usize;
        buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }

    fn put32(buf: &mut [u8], off: u64, v: u32) {
        let off = off as usize;
        buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn layout(minor: u32) -> StatsLayout {
        let v = crate::binary::buildinfo::GoVersion {
            major: 1,
            minor,
            patch: 0,
        };
        let table = RuntimeLayout::for_version(v).expect("table");
        StatsLayout::new(&table).expect("memory statistics in the table")
    }

    /// An mstats of a process after one GC, with its counts spread over two shards.
    fn sample(l: &StatsLayout) -> Vec<u8> {
        let o = &l.mstats;
        let d = &o.delta;
        let mut buf = vec![0u8; o.size as usize];
        let s0 = o.shards;
        let s1 = o.shards + o.shard_size;
        put(&mut buf, s0 + d.committed, 3 << 20);
        put(&mut buf, s0 + d.in_heap, 1 << 20);
        put(&mut buf, s1 + d.in_heap, (-(8192i64)) as u64);
        put(&mut buf, s0 + d.in_stacks, 256 << 10);
        put(&mut buf, s0 + d.small_alloc_count + 8 * 2, 100);
        put(&mut buf, s1 + d.small_alloc_count + 8 * 2, 20);
        put(&mut buf, s0 + d.small_free_count + 8 * 2, 30);
        put(&mut buf, s0 + d.large_alloc, 40960);
        put(&mut buf, s0 + d.large_alloc_count, 1);
        put(&mut buf, s0 + d.tiny_alloc_count, 7);
        put32(&mut buf, o.gen, 1);
        for (k, &off) in o.sys.iter().enumerate() {
            put(&mut buf, off, 4096 * k as u64);
        }
        buf[o.enablegc as usize] = 1;
        put(&mut buf, o.last_gc_unix, 1_700_000_000_000_000_000);
        put(&mut buf, o.pause_total_ns, 12345);
        put(&mut buf, o.pause_end, 1_700_000_000_000_000_000);
        put32(&mut buf, o.numgc, 1);
        buf
    }

    #[test]
    fn memstats_are_read_memstats_arithmetic() {
        for minor in 21..=27 {
            let l = layout(minor);
            let buf = sample(&l);
            let m = l.mstats.decode(&buf, 0, l.page, true).expect("plausible");
            assert_eq!(m.in_heap, (1 << 20) - 8192);
            let c = Controller {
                gc_percent: 100,
                memory_limit: i64::MAX,
                heap_in_use: (1 << 20) - 8192,
                heap_free: (3 << 20) - (256 << 10) - ((1 << 20) - 8192),
                heap_released: 0,
                total_alloc: 0,
                total_free: 0,
            };
            assert!(c.agrees_with(&m, l.page));
            let extra = Unflushed {
                objects: 2,
                bytes: 32,
                tiny: 3,
            };
            let s = memstats(&m, &c, extra);
            assert_eq!(s.heap_objects, 120 - 30 + 1 + 2);
            assert_eq!(s.heap_alloc, (120 - 30) * 16 + 40960 + 32);
            assert_eq!(s.mallocs, 120 + 1 + 2 + 7 + 3);
            assert_eq!(s.frees, 30 + 7 + 3);
            assert_eq!(s.stack_inuse, 256 << 10);
            assert_eq!(s.heap_inuse, (1 << 20) - 8192);
            assert_eq!(s.sys, (3 << 20) - (256 << 10) + 4096 * 15 + (256 << 10));
            assert_eq!(s.num_gc, 1);
            // A GC whose end is not recorded, or a heap count that is no page multiple, is
            // not an mstats.
            let mut bad = buf.clone();
            put(&mut bad, l.mstats.pause_end, 0);
            assert!(l.mstats.decode(&bad, 0, l.page, true).is_none());
            let mut bad = buf.clone();
            put(&mut bad, l.mstats.shards + l.mstats.delta.in_stacks, 100);
            assert!(l.mstats.decode(&bad, 0, l.page, true).is_none());
            let mut bad = buf.clone();
            bad[l.mstats.enablegc as usize] = 0;
            assert!(l.mstats.decode(&bad, 0, l.page, true).is_none());
            let other = Controller {
                heap_in_use: 1 << 20,
                ..c
            };
            assert!(!other.agrees_with(&m, l.page));
            // Short buffers are refused, not read past.
            assert!(l.mstats.decode(&buf[..100], 0, l.page, false).is_none());
        }
    }
}
