//! The heap object around an address: `mheap_.arenas` maps an address to its 64 MB arena,
//! the arena's span map to the span of its page, and the span's start and object size to
//! the object. Stripped binaries have no `runtime.mheap_` symbol: the arena table is found
//! in .bss/.noptrbss as the word through which a known goroutine struct (heap-allocated)
//! maps to an in-use span that contains it.

use super::Runtime;
use crate::target::MemoryExt;

/// linux/amd64 geometry, the same in every supported release: 64 MB arenas of 8 KB pages,
/// one level of 4M arena entries, addresses offset by `arenaBaseOffset`.
const HEAP_ARENA_BYTES: u64 = 64 << 20;
const PAGE_SIZE: u64 = 8192;
const PAGES_PER_ARENA: u64 = HEAP_ARENA_BYTES / PAGE_SIZE;
const ARENA_L2_ENTRIES: u64 = 1 << 22;
const ARENA_BASE_OFFSET: u64 = 0xffff_8000_0000_0000;
const SPAN_IN_USE: u8 = 1;

/// Where the heap's arena table is.
#[derive(Debug, Clone, Copy)]
pub struct HeapIndex {
    /// The L2 arena array (`mheap_.arenas[0]`).
    l2: u64,
}

pub(super) fn arena_slot(p: u64) -> Option<u64> {
    let ri = p.wrapping_sub(ARENA_BASE_OFFSET) / HEAP_ARENA_BYTES;
    (ri < ARENA_L2_ENTRIES).then_some(ri)
}

impl Runtime {
    /// The heap's arena table, when it can be found.
    pub fn heap_index(&self) -> Option<HeapIndex> {
        let (mheap, _) = self.mheap_address(true)?;
        let l2 = self
            .mem
            .read_ptr(mheap.checked_add(self.off.heap.mheap_arenas)?)
            .ok()?;
        let index = HeapIndex { l2 };
        self.object_of(index, self.known_heap_object()?)
            .map(|_| index)
    }

    /// `runtime.mheap_` and how it was found: its symbol (unless `symbols` is false), else
    /// the .bss/.noptrbss word through which a known goroutine struct (a heap object) maps to
    /// an in-use span that contains it — that word is `mheap_.arenas[0]`.
    pub fn mheap_address(&self, symbols: bool) -> Option<(u64, &'static str)> {
        if let Some(sym) = self.symbol("runtime.mheap_").filter(|_| symbols) {
            return Some((sym, "symbol"));
        }
        let arenas = self.off.heap.mheap_arenas;
        let probe = self.known_heap_object()?;
        let md = self.binary.moduledata()?;
        for (lo, hi) in [(md.noptrbss, md.enoptrbss), (md.bss, md.ebss)] {
            let (lo, hi) = (lo.wrapping_add(self.bias), hi.wrapping_add(self.bias));
            let len = usize::try_from(hi.checked_sub(lo)?.min(64 << 20)).ok()?;
            let Ok(bytes) = self.mem.read_vec(lo, len) else {
                continue;
            };
            for (k, c) in (0u64..).zip(bytes.chunks_exact(8)) {
                let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
                let at = lo.wrapping_add(k.wrapping_mul(8));
                // mheap_ itself must lie in the section too.
                if w == 0 || !w.is_multiple_of(8) || at < lo.saturating_add(arenas) {
                    continue;
                }
                if self.object_of(HeapIndex { l2: w }, probe).is_some() {
                    return Some((at.wrapping_sub(arenas), "scan"));
                }
            }
        }
        None
    }

    /// A goroutine struct other than g0's (those are heap objects).
    fn known_heap_object(&self) -> Option<u64> {
        let (ptr, len) = self.allgs;
        (0..len.min(16))
            .filter_map(|i| self.mem.read_ptr(ptr.wrapping_add(i.wrapping_mul(8))).ok())
            .find(|&g| g != 0)
    }

    /// The heap object containing `p`: its start and size, when `p` lies in an in-use span.
    pub fn object_of(&self, index: HeapIndex, p: u64) -> Option<(u64, u64)> {
        let o = self.off.heap;
        let ri = arena_slot(p)?;
        let arena = self
            .mem
            .read_ptr(index.l2.wrapping_add(ri.wrapping_mul(8)))
            .ok()?;
        if arena == 0 {
            return None;
        }
        let page = (p / PAGE_SIZE) % PAGES_PER_ARENA;
        let span = self
            .mem
            .read_ptr(
                arena
                    .wrapping_add(o.arena_spans)
                    .wrapping_add(page.wrapping_mul(8)),
            )
            .ok()?;
        if span == 0 {
            return None;
        }
        let start = self.mem.read_u64(span.wrapping_add(o.span_start)).ok()?;
        let npages = self.mem.read_u64(span.wrapping_add(o.span_npages)).ok()?;
        let size = self.mem.read_u64(span.wrapping_add(o.span_elemsize)).ok()?;
        let state = self.mem.read_u8(span.wrapping_add(o.span_state)).ok()?;
        let end = start.checked_add(npages.checked_mul(PAGE_SIZE)?)?;
        if state != SPAN_IN_USE || size == 0 || p < start || p >= end {
            return None;
        }
        let index = p.wrapping_sub(start).checked_div(size)?;
        let base = start.wrapping_add(index.wrapping_mul(size));
        Some((base, size.min(end.saturating_sub(base))))
    }
}

impl Runtime {
    /// The pointer words of .data and .bss as (address, value), by the runtime's own
    /// pointer bitmaps of them; None when the bitmaps cannot be read (then every word is
    /// a candidate).
    pub fn global_pointers(&self) -> Option<Vec<(u64, u64)>> {
        let o = self.off.heap;
        let md = self.binary.moduledata()?;
        let at = md.address.wrapping_add(self.bias);
        let mut out = Vec::new();
        for (mask, start, end) in [
            (o.gcdatamask?, md.data, md.edata),
            (o.gcbssmask?, md.bss, md.ebss),
        ] {
            let (start, end) = (start.wrapping_add(self.bias), end.wrapping_add(self.bias));
            let n = u64::from(self.mem.read_u32(at.wrapping_add(mask)).ok()?);
            let bits = self
                .mem
                .read_ptr(at.wrapping_add(mask).wrapping_add(8))
                .ok()?;
            let words = end.checked_sub(start)? / 8;
            if n == 0 || bits == 0 || n > words.saturating_add(64) {
                return None;
            }
            let n = n.min(words);
            let bytes = self.mem.read_vec(bits, n.div_ceil(8) as usize).ok()?;
            let data = self.mem.read_vec(start, n.checked_mul(8)? as usize).ok()?;
            for i in 0..n {
                let set = bytes
                    .get((i / 8) as usize)
                    .is_some_and(|b| b & (1 << (i % 8)) != 0);
                if !set {
                    continue;
                }
                let k = i.saturating_mul(8) as usize;
                if let Some(w) = data
                    .get(k..k.saturating_add(8))
                    .and_then(|b| b.try_into().ok())
                {
                    out.push((start.wrapping_add(i.wrapping_mul(8)), u64::from_le_bytes(w)));
                }
            }
        }
        Some(out)
    }
}
