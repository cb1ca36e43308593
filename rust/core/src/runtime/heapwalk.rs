//! A walk of the whole heap: every arena of `mheap_.arenas`, every span of each arena's
//! page→span map (counted once, at its first page), and in every in-use span the objects its
//! allocation bits say are allocated. The totals count what the spans hold, independently of
//! the runtime's own counters ([`super::sched`]), so the two can be compared.
//!
//! What the runtime sources of go1.21 to go1.27 say, and the walk relies on:
//!
//! - `mspan.isFree(i)`: slot `i` is allocated iff `i < freeindex` or bit `i` of `allocBits`
//!   is set. `nextFreeFast`/`nextFreeIndex` hand out slots at and after `freeindex` from
//!   `allocCache` (an inverted copy of 64 `allocBits`) and only advance `freeindex`; the bits
//!   themselves change only when a sweep replaces `allocBits` by `gcmarkBits`. go1.26's Green
//!   Tea GC keeps the marks of small spans inside the span (`spanInlineMarkBits`, the end of
//!   the span's page) while marking, but the sweeper moves them back into `gcmarkBits` before
//!   they become `allocBits`, and `nelems` already leaves room for them: `allocBits` stays
//!   where the allocated objects are.
//! - A large object is a span of size class 0 holding one object; `ReadMemStats` counts it
//!   as `npages * pageSize` bytes.
//! - Tiny allocations share 16-byte blocks; `HeapObjects` counts the blocks, as the walk does.
//! - Stacks live in spans in the `mSpanManual` state (`allocManual(.., spanAllocStack)`);
//!   the GC's work buffers do too, so the stack figure includes any work buffer spans.
//! - Free pages have no span: their state is the page allocator's (`mheap_.pages.chunks`, one
//!   `pallocData` of 512 allocation bits and 512 scavenged bits per 4 MB chunk). Idle pages
//!   are the free pages of the address ranges the heap has grown into plus the pages each P
//!   holds in its page cache (`p.pcache`), released ones those also scavenged.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Runtime;
use crate::error::{Error, ErrorKind, Result};
use crate::layout::RuntimeLayout;
use crate::target::MemoryExt;

/// linux/amd64 geometry, the same in every supported release.
const PAGE_SIZE: u64 = 8192;
const ARENA_BYTES: u64 = 64 << 20;
const PAGES_PER_ARENA: u64 = ARENA_BYTES / PAGE_SIZE;
const ARENA_L2_ENTRIES: u64 = 1 << 22;
const ARENA_BASE_OFFSET: u64 = 0xffff_8000_0000_0000;
/// The page allocator's radix: 4 MB chunks of 512 pages, a two-level map of 13 + 13 bits.
const CHUNK_BYTES: u64 = 4 << 20;
const CHUNK_L2_BITS: u64 = 13;
/// `pallocData`: `pallocBits` and `scavenged`, 512 bits each.
const PALLOC_DATA_BYTES: u64 = 128;
const SPAN_IN_USE: u8 = 1;
const SPAN_MANUAL: u8 = 2;
/// Bounds against corrupt data: the most slots a span of small objects has (8 KB of 8-byte
/// objects), and the most spans and arenas a walk visits.
const MAX_SMALL_NELEMS: u64 = 1024;
const MAX_SPANS: u64 = 1 << 24;
const MAX_ARENAS: u64 = 1 << 16;
const MAX_WARNINGS: usize = 32;
/// Unreadable or corrupt spans and maps after which the arena map is taken for garbage: each
/// costs a read and a message, and a map of garbage names up to `MAX_SPANS` of them.
const MAX_PROBLEMS: u64 = 1 << 18;
/// Entries of an arena's span map read at once (512 bytes of the map).
const MAP_PIECE: u64 = 64;

/// Totals of a heap walk. Bytes and object counts as `runtime.MemStats` names them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HeapTotals {
    /// Bytes of in-use spans (`HeapInuse`).
    pub heap_inuse: u64,
    /// Allocated objects (`HeapObjects`) and their bytes (`HeapAlloc`).
    pub heap_objects: u64,
    pub heap_alloc: u64,
    /// Free heap pages (`HeapIdle`) and those returned to the OS (`HeapReleased`), from the
    /// page allocator; None when its chunks could not be read.
    pub heap_idle: Option<u64>,
    pub heap_released: Option<u64>,
    /// Bytes of manual spans: goroutine stacks (`StackInuse`) and GC work buffers.
    pub stack_inuse: u64,
    pub spans_in_use: u64,
    pub spans_manual: u64,
    pub large_objects: u64,
    pub large_bytes: u64,
    pub arenas: u64,
}

/// One size class's share of the heap.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SizeClass {
    pub class: u8,
    /// Object size in bytes.
    pub size: u64,
    pub objects: u64,
    pub bytes: u64,
    pub spans: u64,
    /// Slots of those spans (allocated or free).
    pub slots: u64,
    /// Spans of the class whose objects hold no pointers.
    pub noscan_spans: u64,
}

/// The result of a heap walk: totals, size classes by bytes, and what could not be read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HeapWalk {
    pub totals: HeapTotals,
    pub size_classes: Vec<SizeClass>,
    /// How `runtime.mheap_` was found: "symbol" or "scan".
    pub found: Option<String>,
    /// Where the idle and released figures come from.
    pub idle_source: String,
    pub warnings: Vec<String>,
    /// Warnings beyond the first few, counted only.
    #[serde(skip)]
    suppressed: u64,
}

impl HeapWalk {
    fn warn(&mut self, w: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        } else {
            self.suppressed = self.suppressed.saturating_add(1);
        }
    }

    fn problems(&self) -> u64 {
        (self.warnings.len() as u64).saturating_add(self.suppressed)
    }
}

/// What the walk calls with each in-use span.
pub type SpanVisitor<'a> = &'a mut dyn for<'s> FnMut(&SpanView<'s>);

/// An in-use span of heap objects, as the walk read it.
pub struct SpanView<'a> {
    pub start: u64,
    pub bytes: u64,
    /// Size class times two, plus one when its objects hold no pointers.
    pub spanclass: u8,
    pub elemsize: u64,
    pub nelems: u64,
    pub freeindex: u64,
    /// Empty for a large object's span (its one object is allocated).
    pub alloc_bits: &'a [u8],
    /// The `mspan` struct.
    pub raw: &'a [u8],
}

impl SpanView<'_> {
    /// Whether slot `i` holds an allocated object.
    pub fn allocated(&self, i: u64) -> bool {
        i < self.freeindex
            || self
                .alloc_bits
                .get((i / 8) as usize)
                .is_some_and(|b| b & (1 << (i % 8)) != 0)
    }

    /// A little-endian field of the `mspan` struct.
    pub fn field(&self, off: u64, size: u64) -> Option<u64> {
        field(self.raw, (off, size))
    }
}

/// Offsets the walk needs beyond the ones the arena index uses (`Runtime::off.heap`).
struct WalkLayout {
    heap_arenas: u64,
    chunks: u64,
    pages_start: u64,
    pages_end: u64,
    in_use: u64,
    pcache: u64,
    span_size: u64,
    freeindex: (u64, u64),
    nelems: (u64, u64),
    alloc_bits: u64,
    spanclass: u64,
}

impl WalkLayout {
    fn new(layout: &RuntimeLayout) -> Result<WalkLayout> {
        let f = |t: &str, n: &str| {
            layout.field(t, n).map(|f| (f.offset, f.size)).map_err(|_| {
                Error::new(
                    ErrorKind::Unsupported,
                    format!("the {} layout has no {t}.{n}", layout.go_version()),
                )
            })
        };
        let o = |t: &str, n: &str| f(t, n).map(|x| x.0);
        let s = |n: &str| o("runtime.mspan", n);
        Ok(WalkLayout {
            // go1.25 renamed allArenas to heapArenas.
            heap_arenas: o("runtime.mheap", "heapArenas")
                .or_else(|_| o("runtime.mheap", "allArenas"))?,
            chunks: o("runtime.mheap", "pages.chunks")?,
            pages_start: o("runtime.mheap", "pages.start")?,
            pages_end: o("runtime.mheap", "pages.end")?,
            in_use: o("runtime.mheap", "pages.inUse.ranges")?,
            pcache: o("runtime.p", "pcache.cache")?,
            span_size: layout.size("runtime.mspan").map_err(|_| {
                Error::new(ErrorKind::Unsupported, "the layout has no runtime.mspan")
            })?,
            freeindex: f("runtime.mspan", "freeindex")?,
            nelems: f("runtime.mspan", "nelems")?,
            alloc_bits: s("allocBits")?,
            spanclass: s("spanclass")?,
        })
    }
}

/// A little-endian unsigned field of `size` bytes (1, 2, 4 or 8) at `off` in `buf`.
fn field(buf: &[u8], (off, size): (u64, u64)) -> Option<u64> {
    let off = usize::try_from(off).ok()?;
    let b = buf.get(off..off.checked_add(usize::try_from(size).ok()?)?)?;
    let mut w = [0u8; 8];
    w.get_mut(..b.len())?.copy_from_slice(b);
    Some(u64::from_le_bytes(w))
}

fn arena_base(ri: u64) -> u64 {
    ri.wrapping_mul(ARENA_BYTES).wrapping_add(ARENA_BASE_OFFSET)
}

impl Runtime {
    /// Walks the heap and totals what its spans hold. Whatever cannot be read becomes a
    /// warning; the totals then cover the rest.
    pub fn heap_walk(&self, layout: &RuntimeLayout) -> HeapWalk {
        self.heap_walk_found(layout, true)
    }

    /// The walk with `runtime.mheap_` found by its symbol when `symbols`, else by the scan
    /// stripped binaries need.
    fn heap_walk_found(&self, layout: &RuntimeLayout, symbols: bool) -> HeapWalk {
        self.heap_walk_visit(layout, symbols, &mut |_| {})
    }

    /// The walk, calling `visit` with every in-use span of heap objects.
    pub fn heap_walk_visit(
        &self,
        layout: &RuntimeLayout,
        symbols: bool,
        visit: &mut dyn FnMut(&SpanView<'_>),
    ) -> HeapWalk {
        let mut walk = HeapWalk {
            idle_source: "page allocator (mheap_.pages.chunks)".into(),
            ..HeapWalk::default()
        };
        let lay = match WalkLayout::new(layout) {
            Ok(l) => l,
            Err(e) => {
                walk.warn(e.to_string());
                return walk;
            }
        };
        let Some((mheap, how)) = self.mheap_address(symbols) else {
            walk.warn(
                "runtime.mheap_ was not found (no symbol, and no .bss word maps a goroutine \
                 to its span)"
                    .into(),
            );
            return walk;
        };
        walk.found = Some(how.into());
        let l2 = match self
            .mem
            .read_ptr(mheap.wrapping_add(self.off.heap.mheap_arenas))
        {
            Ok(p) => p,
            Err(e) => {
                walk.warn(format!("mheap_.arenas is unreadable: {e}"));
                return walk;
            }
        };
        let arenas = self.heap_arenas(mheap, l2, &lay, &mut walk);
        let mut classes: BTreeMap<u8, SizeClass> = BTreeMap::new();
        let mut spans_seen = 0u64;
        'walk: for ri in arenas {
            walk.totals.arenas = walk.totals.arenas.saturating_add(1);
            let Ok(arena) = self.mem.read_ptr(l2.wrapping_add(ri.wrapping_mul(8))) else {
                walk.warn(format!("the arena entry {ri} is unreadable"));
                continue;
            };
            if arena == 0 {
                continue;
            }
            let base = arena_base(ri);
            // The span just read and the pages it covers: the following entries of the
            // same span are skipped only while they lie inside it, since an entry may name
            // a freed span struct that now describes other pages.
            let mut last = (0u64, 0u64, 0u64);
            // The map is read a piece at a time so that an unreadable piece (a truncated
            // core) loses only its own pages.
            for first in (0..PAGES_PER_ARENA).step_by(MAP_PIECE as usize) {
                let at = arena
                    .wrapping_add(self.off.heap.arena_spans)
                    .wrapping_add(first.wrapping_mul(8));
                let piece = match self.mem.read_vec(at, (MAP_PIECE * 8) as usize) {
                    Ok(m) => m,
                    Err(e) => {
                        walk.warn(format!(
                            "the span map of arena {arena:#x} is unreadable from page {first}: {e}"
                        ));
                        break;
                    }
                };
                for (page, c) in (first..).zip(piece.chunks_exact(8)) {
                    let span = field(c, (0, 8)).unwrap_or(0);
                    let at = base.wrapping_add(page.wrapping_mul(PAGE_SIZE));
                    if span == 0 || (span == last.0 && last.1 <= at && at < last.2) {
                        continue;
                    }
                    spans_seen = spans_seen.saturating_add(1);
                    if spans_seen > MAX_SPANS {
                        walk.warn(format!("stopped after {MAX_SPANS} spans"));
                        break 'walk;
                    }
                    let (start, end) =
                        self.count_span(span, at, &lay, &mut walk, &mut classes, visit);
                    last = (span, start, end);
                    if walk.problems() > MAX_PROBLEMS {
                        // Shown whatever the number of warnings before it: it says why the
                        // totals stop short.
                        walk.warnings.push(format!(
                            "stopped after {MAX_PROBLEMS} unreadable or corrupt spans: the arena map is not the runtime's"
                        ));
                        break 'walk;
                    }
                }
            }
        }
        self.page_allocator(mheap, &lay, &mut walk);
        let mut classes: Vec<SizeClass> = classes.into_values().collect();
        classes.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.class.cmp(&b.class)));
        walk.size_classes = classes;
        if walk.suppressed > 0 {
            let n = walk.suppressed;
            walk.warnings.push(format!("{n} more warnings like these"));
        }
        walk
    }

    /// Counts the span at `span` if `page` is its first page (so each span once); returns
    /// the pages it covers (empty when it is no span of `page`).
    fn count_span(
        &self,
        span: u64,
        page: u64,
        lay: &WalkLayout,
        walk: &mut HeapWalk,
        classes: &mut BTreeMap<u8, SizeClass>,
        visit: &mut dyn FnMut(&SpanView<'_>),
    ) -> (u64, u64) {
        let Ok(s) = self.mem.read_vec(span, lay.span_size as usize) else {
            walk.warn(format!("the span {span:#x} is unreadable"));
            return (0, 0);
        };
        let get = |off: u64, size: u64| field(&s, (off, size)).unwrap_or(0);
        // A page map entry may still name a span struct that was freed (state dead) or
        // reused for other pages; only the span's own first page counts it.
        let start = get(self.off.heap.span_start, 8);
        let npages = get(self.off.heap.span_npages, 8);
        let state = get(self.off.heap.span_state, 1);
        // Freed span structs are dead (0) or reused as another span, and every span has
        // pages: anything else means the map or the struct is not what the runtime wrote.
        let bytes = npages
            .checked_mul(PAGE_SIZE)
            .filter(|&b| b > 0 && start.checked_add(b).is_some());
        let Some(bytes) = bytes.filter(|_| state <= u64::from(SPAN_MANUAL)) else {
            walk.warn(format!(
                "the span {span:#x} named by the page at {page:#x} is corrupt \
                 (state {state}, {npages} pages at {start:#x})"
            ));
            return (0, 0);
        };
        // Does not overflow: checked with `bytes` above.
        let end = start.saturating_add(bytes);
        if start == page {
            self.count_live_span(span, &s, bytes, lay, walk, (classes, visit));
        }
        // A stale entry's struct may describe pages further on: only a span holding this
        // page lets the following entries be skipped.
        if start <= page && page < end {
            (start, end)
        } else {
            (0, 0)
        }
    }

    fn count_live_span(
        &self,
        span: u64,
        s: &[u8],
        bytes: u64,
        lay: &WalkLayout,
        walk: &mut HeapWalk,
        (classes, visit): (&mut BTreeMap<u8, SizeClass>, SpanVisitor<'_>),
    ) {
        let get = |off: u64, size: u64| field(s, (off, size)).unwrap_or(0);
        let state = get(self.off.heap.span_state, 1) as u8;
        match state {
            SPAN_MANUAL => {
                walk.totals.spans_manual = walk.totals.spans_manual.saturating_add(1);
                walk.totals.stack_inuse = walk.totals.stack_inuse.saturating_add(bytes);
                return;
            }
            SPAN_IN_USE => {}
            _ => return,
        }
        walk.totals.spans_in_use = walk.totals.spans_in_use.saturating_add(1);
        walk.totals.heap_inuse = walk.totals.heap_inuse.saturating_add(bytes);
        let spanclass = get(lay.spanclass, 1) as u8;
        let class = spanclass >> 1;
        if class == 0 {
            walk.totals.large_objects = walk.totals.large_objects.saturating_add(1);
            walk.totals.large_bytes = walk.totals.large_bytes.saturating_add(bytes);
            walk.totals.heap_objects = walk.totals.heap_objects.saturating_add(1);
            walk.totals.heap_alloc = walk.totals.heap_alloc.saturating_add(bytes);
            visit(&SpanView {
                start: get(self.off.heap.span_start, 8),
                bytes,
                spanclass,
                elemsize: bytes,
                nelems: 1,
                freeindex: 1,
                alloc_bits: &[],
                raw: s,
            });
            return;
        }
        let elemsize = get(self.off.heap.span_elemsize, 8);
        let nelems = get(lay.nelems.0, lay.nelems.1);
        let freeindex = get(lay.freeindex.0, lay.freeindex.1);
        if elemsize == 0
            || nelems > MAX_SMALL_NELEMS
            || nelems > bytes.checked_div(elemsize).unwrap_or(0)
        {
            walk.warn(format!(
                "the span {span:#x} of size class {class} has {nelems} objects of {elemsize} bytes"
            ));
            return;
        }
        let bits_at = get(lay.alloc_bits, 8);
        let bits = match self.mem.read_vec(bits_at, nelems.div_ceil(8) as usize) {
            Ok(b) => b,
            Err(e) => {
                walk.warn(format!(
                    "the allocation bits of span {span:#x} are unreadable: {e}"
                ));
                return;
            }
        };
        let allocated = (0..nelems)
            .filter(|&i| {
                i < freeindex
                    || bits
                        .get((i / 8) as usize)
                        .is_some_and(|b| b & (1 << (i % 8)) != 0)
            })
            .count() as u64;
        let allocated_bytes = allocated.saturating_mul(elemsize);
        walk.totals.heap_objects = walk.totals.heap_objects.saturating_add(allocated);
        walk.totals.heap_alloc = walk.totals.heap_alloc.saturating_add(allocated_bytes);
        let c = classes.entry(class).or_insert_with(|| SizeClass {
            class,
            size: elemsize,
            ..SizeClass::default()
        });
        c.objects = c.objects.saturating_add(allocated);
        c.bytes = c.bytes.saturating_add(allocated_bytes);
        c.spans = c.spans.saturating_add(1);
        c.slots = c.slots.saturating_add(nelems);
        if spanclass & 1 != 0 {
            c.noscan_spans = c.noscan_spans.saturating_add(1);
        }
        visit(&SpanView {
            start: get(self.off.heap.span_start, 8),
            bytes,
            spanclass,
            elemsize,
            nelems,
            freeindex,
            alloc_bits: &bits,
            raw: s,
        });
    }

    /// The arena indexes to visit: `mheap_.heapArenas` (`allArenas` before go1.25), else
    /// every non-empty entry of the L2 array between the page allocator's bounds.
    fn heap_arenas(&self, mheap: u64, l2: u64, lay: &WalkLayout, walk: &mut HeapWalk) -> Vec<u64> {
        let listed = (|| {
            let ptr = self
                .mem
                .read_ptr(mheap.wrapping_add(lay.heap_arenas))
                .ok()?;
            let len = self
                .mem
                .read_u64(mheap.wrapping_add(lay.heap_arenas).wrapping_add(8))
                .ok()?;
            if len == 0 || len > MAX_ARENAS {
                return None;
            }
            let raw = self.mem.read_vec(ptr, len.checked_mul(8)? as usize).ok()?;
            let all: Vec<u64> = raw
                .chunks_exact(8)
                .filter_map(|c| field(c, (0, 8)))
                .filter(|&ri| ri < ARENA_L2_ENTRIES)
                .collect();
            (all.len() as u64 == len).then_some(all)
        })();
        if let Some(mut all) = listed {
            all.sort_unstable();
            all.dedup();
            return all;
        }
        walk.warn("mheap_.heapArenas is unreadable; the arena map was scanned".into());
        let bounds = (|| {
            let start = self
                .mem
                .read_u64(mheap.wrapping_add(lay.pages_start))
                .ok()?;
            let end = self.mem.read_u64(mheap.wrapping_add(lay.pages_end)).ok()?;
            let per = ARENA_BYTES / CHUNK_BYTES;
            // end > start, so end - 1 does not wrap.
            (start < end).then(|| (start / per, (end.wrapping_sub(1) / per).wrapping_add(1)))
        })();
        let (lo, hi) = bounds.unwrap_or((0, ARENA_L2_ENTRIES));
        let (lo, hi) = (lo.min(ARENA_L2_ENTRIES), hi.min(ARENA_L2_ENTRIES));
        let mut out = Vec::new();
        let step = 8192u64;
        let mut ri = lo;
        while ri < hi && (out.len() as u64) < MAX_ARENAS {
            let n = step.min(hi.saturating_sub(ri));
            let at = l2.wrapping_add(ri.wrapping_mul(8));
            if let Ok(raw) = self.mem.read_vec(at, n.saturating_mul(8) as usize) {
                for (i, c) in (0u64..).zip(raw.chunks_exact(8)) {
                    if field(c, (0, 8)).is_some_and(|p| p != 0) {
                        out.push(ri.wrapping_add(i));
                    }
                }
            }
            ri = ri.saturating_add(n);
        }
        out
    }

    /// Idle and released bytes: the free pages, and the free and scavenged ones, of the
    /// address ranges the heap has grown into (`mheap_.pages.inUse.ranges`).
    fn page_allocator(&self, mheap: u64, lay: &WalkLayout, walk: &mut HeapWalk) {
        let result = (|| -> Result<(u64, u64)> {
            let ptr = self.mem.read_ptr(mheap.wrapping_add(lay.in_use))?;
            let len_at = mheap.wrapping_add(lay.in_use).wrapping_add(8);
            let len = self.mem.read_u64(len_at)?;
            if len > 1 << 16 {
                return Err(Error::corrupt(format!("it lists {len} address ranges")).at(len_at));
            }
            // At most 1 MiB: len is bounded above.
            let raw = self.mem.read_vec(ptr, len.saturating_mul(16) as usize)?;
            let (mut idle, mut released, mut pages) = (0u64, 0u64, 0u64);
            let mut l1_cached: Option<(u64, u64)> = None;
            // The chunk whose `pallocData` was read last: pages are visited in order.
            let mut chunk: Option<(u64, Vec<u8>)> = None;
            for (k, r) in (0u64..).zip(raw.chunks_exact(16)) {
                let (Some(lo), Some(hi)) = (field(r, (0, 8)), field(r, (8, 8))) else {
                    continue;
                };
                let mut p = lo;
                while p < hi {
                    pages = pages.saturating_add(1);
                    if pages > 1 << 28 {
                        let at = ptr.wrapping_add(k.wrapping_mul(16));
                        return Err(Error::corrupt("its ranges hold more than 2 TB").at(at));
                    }
                    let ci = p.wrapping_sub(ARENA_BASE_OFFSET) / CHUNK_BYTES;
                    if chunk.as_ref().is_none_or(|(c, _)| *c != ci) {
                        let (i1, i2) = (ci >> CHUNK_L2_BITS, ci & ((1 << CHUNK_L2_BITS) - 1));
                        let l2 = match l1_cached {
                            Some((k, v)) if k == i1 => v,
                            _ => {
                                let at = mheap
                                    .wrapping_add(lay.chunks)
                                    .wrapping_add(i1.wrapping_mul(8));
                                let v = self.mem.read_ptr(at)?;
                                l1_cached = Some((i1, v));
                                v
                            }
                        };
                        let at = l2.wrapping_add(i2.wrapping_mul(PALLOC_DATA_BYTES));
                        let data = self.mem.read_vec(at, PALLOC_DATA_BYTES as usize)?;
                        chunk = Some((ci, data));
                    }
                    let bit = (p % CHUNK_BYTES) / PAGE_SIZE;
                    let data = chunk.as_ref().map_or(&[][..], |(_, d)| d.as_slice());
                    let byte = |base: u64| data.get(base.wrapping_add(bit / 8) as usize).copied();
                    let (Some(alloc), Some(scav)) = (byte(0), byte(64)) else {
                        return Err(Error::truncated("a chunk's bitmaps are short"));
                    };
                    let mask = 1u8 << (bit % 8);
                    // Allocating pages clears their scavenged bits, except for go1.26's
                    // random padding below the heap's base (`markRandomPaddingPages`),
                    // which the runtime counts as idle and released: a scavenged page is
                    // free whatever its allocation bit.
                    if scav & mask != 0 {
                        idle = idle.saturating_add(1);
                        released = released.saturating_add(1);
                    } else if alloc & mask == 0 {
                        idle = idle.saturating_add(1);
                    }
                    let Some(next) = p.checked_add(PAGE_SIZE) else {
                        break;
                    };
                    p = next;
                }
            }
            // Each P caches up to 64 pages that the page allocator counts as allocated
            // but the runtime counts as free (`pageCache.cache`, 1 = free).
            for &p in &self.allp {
                let cache = self.mem.read_u64(p.wrapping_add(lay.pcache))?;
                let scav = self
                    .mem
                    .read_u64(p.wrapping_add(lay.pcache).wrapping_add(8))?;
                idle = idle.saturating_add(u64::from(cache.count_ones()));
                released = released.saturating_add(u64::from((cache & scav).count_ones()));
            }
            Ok((
                idle.saturating_mul(PAGE_SIZE),
                released.saturating_mul(PAGE_SIZE),
            ))
        })();
        match result {
            Ok((idle, released)) => {
                walk.totals.heap_idle = Some(idle);
                walk.totals.heap_released = Some(released);
            }
            Err(e) => walk.warn(format!("the page allocator is unreadable: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_outside_the_buffer_are_none() {
        let buf = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(field(&buf, (0, 2)), Some(0x0201));
        assert_eq!(field(&buf, (1, 8)), Some(0x0908_0706_0504_0302));
        assert_eq!(field(&buf, (2, 8)), None);
        assert_eq!(field(&buf, (u64::MAX, 8)), None);
        assert_eq!(field(&buf, (0, 16)), None);
        assert_eq!(field(&[], (0, 1)), None);
    }

    #[test]
    fn arena_indexes_round_trip() {
        for p in [0x00c0_0000_0000_u64, 0x7f00_0000_0000, 0x0040_0000] {
            let ri = super::super::heap::arena_slot(p).expect("a heap address has an arena");
            assert!(ri < ARENA_L2_ENTRIES);
            assert!(arena_base(ri) <= p && p < arena_base(ri) + ARENA_BYTES);
        }
    }

    /// On every fixture core the walk reads everything, and where the binary has symbols the
    /// scan for `mheap_` that stripped binaries need finds the same heap.
    #[test]
    #[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
    fn scan_agrees_with_symbols() {
        let mut compared = 0;
        for dir in super::super::fixture_cores() {
            let target = crate::session::Target::open_core(&dir.join("core"), &dir.join("bin"))
                .expect("fixture core opens");
            let rt = target.runtime();
            let name = dir.display();
            let scanned = rt.heap_walk_found(target.layout(), false);
            assert!(
                scanned.warnings.is_empty(),
                "{name}: {:?}",
                scanned.warnings
            );
            assert_eq!(scanned.found.as_deref(), Some("scan"), "{name}");
            assert!(scanned.totals.heap_inuse > 0 && scanned.totals.stack_inuse > 0);
            if rt.symbol("runtime.mheap_").is_none() {
                continue;
            }
            let named = rt.heap_walk(target.layout());
            assert_eq!(named.found.as_deref(), Some("symbol"), "{name}");
            assert_eq!(
                serde_json::to_value(&named.totals).ok(),
                serde_json::to_value(&scanned.totals).ok(),
                "{name}"
            );
            compared += 1;
        }
        assert!(compared > 0, "no fixture core has symbols");
    }
}
