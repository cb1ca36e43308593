//! The heap as a graph: every allocated object (from the heap walk's allocation bits), the
//! roots that point into it (data and bss by the runtime's pointer bitmaps, goroutine stacks
//! by the compiler's stack maps, deferred calls) and the pointers between objects.
//!
//! Types come from the runtime's own metadata where it has them — the type header of objects
//! over 512 bytes in small-object spans and `mspan.largeType` of large ones (go1.22+) — and
//! from the types of the roots (DWARF, when the binary has it), carried along typed pointers:
//! a `*T` field types its target `T`, a `[]T` field its backing array, a map its buckets,
//! a channel its buffer, an interface the value its data word points to. An object reached
//! by typed pointers is scanned by its type; one of unknown type in a span that holds
//! pointers is scanned word by word (a word counts when it points into an allocated object);
//! objects of spans without pointers are never scanned.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::Arc;

use serde::Serialize;

use crate::binary::dwarfvars::{DwarfVars, PieceLoc};
use crate::layout::RuntimeLayout;
use crate::runtime::heapwalk::{HeapWalk, SpanView};
use crate::runtime::types::{Kind, TypeReader};
use crate::runtime::{live_slots, FrameSpan, Runtime};
use crate::target::{Memory, MemoryExt};

const PTR: u64 = 8;
/// go1.22+: objects larger than this in small-object spans start with a `*_type` header.
const HEADER_MIN_SIZE: u64 = 512;
const NONE: u32 = u32::MAX;
/// Bytes of a large object read at once while scanning it.
const CHUNK: u64 = 1 << 20;
/// Slots one type's plan may list before its arrays are scanned word by word instead.
const MAX_PLAN_SLOTS: usize = 4096;
const MAX_TYPE_DEPTH: usize = 12;
/// The most of a stack read for its roots.
const MAX_STACK_BYTES: u64 = 1 << 28;
/// Heap pages, and the most of them indexed for finding objects.
const PAGE: u64 = 8192;
const MAX_PAGE_INDEX: u64 = 1 << 26;
/// Bytes of the core read before its mapped pages are let go.
const TRIM_BYTES: u64 = 256 << 20;
/// `spanInlineMarkBits` (go1.26+): 63 scan bits, an ownership byte, 63 mark bits, a class.
const INLINE_MARK_BITS: u64 = 128;
/// linux/amd64 heap arenas: 64 MB, at `arenaBaseOffset`.
const ARENA_BYTES: u64 = 64 << 20;
const ARENA_BASE_OFFSET: u64 = 0xffff_8000_0000_0000;
/// Map internals the type descriptors do not describe (stable from go1.21 to go1.27):
/// `hmap.buckets`/`oldbuckets`, swiss `Map.dirPtr`/`dirLen`, `table.groups.data`.
const HMAP_BUCKETS: u64 = 16;
const HMAP_OLDBUCKETS: u64 = 24;
const SWISS_DIR_PTR: u64 = 16;
const SWISS_DIR_LEN: u64 = 24;
const SWISS_TABLE_GROUPS: u64 = 16;

/// What an object is known to be, and so how it is scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// In a span with pointers, type unknown: every word is a candidate.
    Unknown,
    /// In a span without pointers.
    Noscan,
    /// One value of the type (at the object's data start).
    Single(u64),
    /// Consecutive values of the type.
    Array(u64),
    /// A map's header (`hmap`, or the swiss `Map`), of the map type.
    MapHeader(u64),
    /// A swiss map's directory (`[]*table`) and table, with the map's group type.
    SwissDir(u64),
    SwissTable(u64),
    /// A channel (`hchan`) of the channel type.
    Chan(u64),
    /// A closure: a code pointer, then the captured variables.
    Closure,
}

/// What a pointer says about its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hint {
    None,
    /// Points to a `T`.
    Obj(u64),
    /// Points into a backing array of `T`s.
    Slice(u64),
    /// A string's bytes.
    Str,
    Map(u64),
    Chan(u64),
    Func,
    SwissDir(u64),
    SwissTable(u64),
}

/// A pointer-holding slot of a type, at a byte offset.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Ptr(u64),
    Slice(u64),
    Str,
    Iface,
    Eface,
    Map(u64),
    Chan(u64),
    Func,
    Unsafe,
    /// Bytes scanned word by word (an array too long to list).
    Words(u64),
}

#[derive(Debug, Default)]
struct Plan {
    size: u64,
    slots: Vec<(u64, Slot)>,
}

/// A type, or what stands for one, objects are grouped by.
#[derive(Debug, Clone, Serialize)]
pub struct Label {
    pub name: String,
    /// The type descriptor, when the label has one.
    #[serde(skip)]
    shape_type: Option<u64>,
}

/// One heap object.
#[derive(Debug, Clone, Copy)]
pub struct Obj {
    pub addr: u64,
    pub size: u64,
    pub label: u32,
    /// Size class (0 for a large object).
    pub class: u8,
    noscan: bool,
    /// Starts with a type header (its data follows it).
    header: bool,
    shape: Shape,
    /// Where its type came from.
    pub typed_by: TypedBy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TypedBy {
    None,
    Header,
    Span,
    Pointer,
    Code,
}

impl Obj {
    /// Where the program's pointers to it point: past the type header, if it has one.
    pub fn data_addr(&self) -> u64 {
        self.addr.wrapping_add(if self.header { PTR } else { 0 })
    }
}

/// A root: a global variable, a goroutine's frame, its deferred calls.
#[derive(Debug, Clone, Serialize)]
pub struct Root {
    pub kind: &'static str,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goroutine: Option<u64>,
    /// Where it is (a global's first pointer word; 0 for other roots).
    #[serde(skip)]
    pub addr: u64,
}

/// A pointer out of an object: (offset in it, target object, hint, the pointer's value).
type Edge = (u32, u32, Hint, u64);

/// A frame's variables on the stack: name, type, and pieces (offset in the variable, size,
/// offset from the CFA).
type FrameVarList = Vec<(Arc<str>, u64, Vec<(u64, u64, i64)>)>;

/// A root's pointer: (root, slot index, value, hint).
type RootPtr = (u32, u32, u64, Hint);
/// Where roots are collected: the roots, their slots and their pointers.
type RootParts<'a> = (
    &'a mut Vec<Root>,
    &'a mut Vec<RootSlot>,
    &'a mut Vec<RootPtr>,
);

/// A root's pointer: where it is and, when known, the variable (and field) holding it.
#[derive(Debug, Clone)]
struct RootSlot {
    at: u64,
    what: Option<Arc<str>>,
}

/// The object graph. Node 0 stands for all roots, nodes `1..=roots.len()` are the roots,
/// the rest the objects in address order.
pub struct HeapGraph {
    pub objects: Vec<Obj>,
    pub labels: Vec<Label>,
    pub roots: Vec<Root>,
    root_slots: Vec<RootSlot>,
    /// Successors of every node, compressed: node i's are `targets[offsets[i]..offsets[i+1]]`.
    pub offsets: Vec<u64>,
    pub targets: Vec<u32>,
    /// Where each edge's pointer is: a byte offset in its source object, or for a root's
    /// edges the index of its slot.
    edge_at: Vec<u32>,
    /// The first node (in breadth-first order from the roots) pointing at each node, and the
    /// edge it did so by.
    parent: Vec<u32>,
    parent_edge: Vec<u32>,
    /// The root each node is first reached from (NONE when unreachable).
    pub first_root: Vec<u32>,
    pub walk: HeapWalk,
    pub warnings: Vec<String>,
    /// Whether roots were typed by DWARF.
    pub dwarf: bool,
    /// `[lo, hi)` of the goroutine structs' addresses (skipped when reachability is asked
    /// for goroutine leaks: the runtime's own reference to every goroutine).
    g_nodes: Vec<u32>,
}

struct Builder<'a> {
    rt: &'a Runtime,
    types: Option<&'a TypeReader<Arc<dyn Memory>>>,
    plans: crate::fasthash::FastMap<u64, Arc<Plan>>,
    /// Sizes of the type descriptors seen, None for addresses that are no descriptor.
    type_sizes: crate::fasthash::FastMap<u64, Option<u64>>,
    class_labels: HashMap<u8, u32>,
    labels: Vec<Label>,
    label_index: HashMap<String, u32>,
    objects: Vec<Obj>,
    /// For each 8 KB page from `heap_lo`, the first object at or after it: `find` searches
    /// only the objects of one page. Empty when the heap's range is too sparse for it.
    page_first: Vec<u32>,
    /// Each object's start as words from `heap_lo`: what `find` searches, densely packed
    /// (empty when the heap spans more than 32 GB).
    offs: Vec<u32>,
    heap_lo: u64,
    heap_hi: u64,
    swiss: bool,
    hchan_buf: Option<u64>,
    hchan_elemtype: Option<u64>,
    warnings: Vec<String>,
    /// Pointer bitmaps of small-object spans (go1.22+): (span start, span end, one bit per
    /// word of the span), in address order.
    span_bits: Vec<(u64, u64, Vec<u8>)>,
    /// go1.21's per-arena pointer bitmaps (`heapArena.bitmap`), read on first use.
    arena_bits: HashMap<u64, Option<Vec<u8>>>,
    /// Where go1.21's bitmap is in a `heapArena` (None from go1.22).
    arena_bitmap: Option<u64>,
    /// `mheap_.arenas[0]`: the arena index.
    arena_l2: Option<u64>,
    /// Spans with specials (finalizers, cleanups, …): (span start, first special).
    specials: Vec<(u64, u64)>,
    /// DWARF variables on the stack at each pc already looked up.
    frame_vars: HashMap<u64, Arc<FrameVarList>>,
    /// Bytes read since the core's pages were last let go (a 2 GB heap would otherwise
    /// stay resident).
    touched: u64,
    /// go1.26's Green Tea collector keeps 128 bytes of mark bits at the end of small-object
    /// spans, before which the pointer bitmap then ends.
    inline_marks: bool,
}

/// The heap's object graph, with types, roots and first paths; `dwarf` types the roots
/// when the binary has DWARF.
pub fn heap_graph(rt: &Runtime, layout: &RuntimeLayout, dwarf: Option<&DwarfVars>) -> HeapGraph {
    let large_type = layout.offset("runtime.mspan", "largeType").ok();
    let headers = rt
        .binary()
        .go_version()
        .is_none_or(|v| v.major > 1 || v.minor >= 22);
    let types = rt.types();
    let mut b = Builder {
        rt,
        types,
        plans: Default::default(),
        type_sizes: Default::default(),
        class_labels: HashMap::new(),
        labels: Vec::new(),
        label_index: HashMap::new(),
        objects: Vec::new(),
        page_first: Vec::new(),
        offs: Vec::new(),
        heap_lo: 0,
        heap_hi: 0,
        swiss: types.is_some_and(|t| t.swiss_maps()),
        hchan_buf: layout.offset("runtime.hchan", "buf").ok(),
        hchan_elemtype: layout.offset("runtime.hchan", "elemtype").ok(),
        warnings: Vec::new(),
        span_bits: Vec::new(),
        specials: Vec::new(),
        touched: 0,
        frame_vars: HashMap::new(),
        arena_bits: HashMap::new(),
        arena_l2: rt.mheap_address(true).and_then(|(m, _)| {
            rt.memory()
                .read_ptr(m.checked_add(rt.offsets().heap.mheap_arenas)?)
                .ok()
        }),
        arena_bitmap: if headers {
            None
        } else {
            layout.offset("runtime.heapArena", "bitmap").ok()
        },
        inline_marks: rt
            .binary()
            .go_version()
            .is_some_and(|v| v.major == 1 && v.minor >= 26)
            && !rt.binary().build_info().is_ok_and(|b| {
                b.settings
                    .iter()
                    .any(|(k, v)| k == "GOEXPERIMENT" && v.contains("nogreenteagc"))
            }),
    };
    let specials_at = layout.offset("runtime.mspan", "specials").ok();
    let walk = rt.heap_walk_visit(layout, true, &mut |s: &SpanView<'_>| {
        if let Some(first) = specials_at.and_then(|o| s.field(o, 8)).filter(|&p| p != 0) {
            b.specials.push((s.start, first));
        }
        b.add_span(s, headers, large_type);
    });
    b.finish_objects();
    rt.memory().trim();
    let mut roots: Vec<Root> = Vec::new();
    let mut root_slots: Vec<RootSlot> = Vec::new();
    // (root, slot index, value, hint) for every root pointer.
    let mut root_ptrs: Vec<(u32, u32, u64, Hint)> = Vec::new();
    let mut g_addrs: Vec<u64> = Vec::new();
    b.stack_roots(
        dwarf,
        (&mut roots, &mut root_slots, &mut root_ptrs),
        &mut g_addrs,
    );
    b.global_roots(dwarf, (&mut roots, &mut root_slots, &mut root_ptrs));
    b.propagate(&root_ptrs);
    b.name_unknown();
    b.special_roots(layout, (&mut roots, &mut root_slots, &mut root_ptrs));
    let nroots = roots.len();
    let n = nroots.saturating_add(b.objects.len()).saturating_add(1);
    let mut offsets: Vec<u64> = Vec::with_capacity(n.saturating_add(1));
    let mut targets: Vec<u32> = Vec::new();
    let mut edge_at: Vec<u32> = Vec::new();
    offsets.push(0);
    for r in 0..nroots {
        targets.push((r as u32).wrapping_add(1));
        edge_at.push(NONE);
    }
    offsets.push(targets.len() as u64);
    let base = (nroots as u32).wrapping_add(1);
    let mut k = 0usize;
    for r in 0..nroots as u32 {
        while let Some(&(root, slot, value, _)) = root_ptrs.get(k) {
            if root != r {
                break;
            }
            if let Some(t) = b.find(value) {
                targets.push(base.wrapping_add(t));
                edge_at.push(slot);
            }
            k = k.saturating_add(1);
        }
        offsets.push(targets.len() as u64);
    }
    let mut out = Vec::new();
    for i in 0..b.objects.len() {
        out.clear();
        b.scan(i as u32, &mut out);
        for &(off, t, _, _) in &out {
            targets.push(base.wrapping_add(t));
            edge_at.push(off);
        }
        offsets.push(targets.len() as u64);
    }
    let g_nodes = g_addrs
        .iter()
        .filter_map(|&g| b.find(g))
        .map(|i| base.wrapping_add(i))
        .collect();
    let mut graph = HeapGraph {
        objects: b.objects,
        labels: b.labels,
        roots,
        root_slots,
        offsets,
        targets,
        edge_at,
        parent: Vec::new(),
        parent_edge: Vec::new(),
        first_root: Vec::new(),
        walk,
        warnings: b.warnings,
        dwarf: dwarf.is_some(),
        g_nodes,
    };
    graph.breadth_first();
    graph
}

/// Adds a root of goroutine `goid` (its stack, its pending deferred calls); returns its index.
fn push_goroutine_root(roots: &mut Vec<Root>, kind: &'static str, name: String, goid: u64) -> u32 {
    let r = roots.len() as u32;
    roots.push(Root {
        kind,
        name,
        goroutine: Some(goid),
        addr: 0,
    });
    r
}

/// Bits `[first, first + n)` of `bits`, as a bitmap of their own.
fn bit_range(bits: &[u8], first: u64, n: u64) -> Vec<u8> {
    let mut out = vec![0u8; n.div_ceil(8) as usize];
    for k in 0..n {
        let i = first.wrapping_add(k);
        if bits
            .get((i / 8) as usize)
            .is_some_and(|b| b & (1 << (i % 8)) != 0)
        {
            if let Some(o) = out.get_mut((k / 8) as usize) {
                *o |= 1 << (k % 8);
            }
        }
    }
    out
}

/// The 8-byte-aligned addresses from `lo` (rounded down) up to `end`.
fn word_addrs(lo: u64, end: u64) -> impl Iterator<Item = u64> {
    (lo & !7..end).step_by(8)
}

fn word(buf: &[u8], off: u64) -> u64 {
    usize::try_from(off)
        .ok()
        .and_then(|o| buf.get(o..o.checked_add(8)?))
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

impl Builder<'_> {
    fn add_span(&mut self, s: &SpanView<'_>, headers: bool, large_type: Option<u64>) {
        let class = s.spanclass >> 1;
        let noscan = s.spanclass & 1 != 0;
        if class == 0 {
            let mut shape = if noscan {
                Shape::Noscan
            } else {
                Shape::Unknown
            };
            let mut typed_by = TypedBy::None;
            if let (false, Some(off)) = (noscan, large_type) {
                let t = s.field(off, 8).unwrap_or(0);
                if self.is_type(t) {
                    let size = self.type_size(t);
                    shape = if size > 0 && s.bytes >= size.saturating_mul(2) {
                        Shape::Array(t)
                    } else {
                        Shape::Single(t)
                    };
                    typed_by = TypedBy::Span;
                }
            }
            self.push(s.start, s.bytes, class, noscan, false, shape, typed_by);
            return;
        }
        let header = headers && !noscan && s.elemsize > HEADER_MIN_SIZE;
        if headers && !noscan && !header {
            // The span's pointer bitmap: one bit per word, at the end of the span.
            let size = s.bytes / PTR / 8;
            let end = s.start.wrapping_add(s.bytes);
            let mut at = end.wrapping_sub(size);
            if self.inline_marks && s.elemsize >= 16 {
                at = at.wrapping_sub(INLINE_MARK_BITS);
            }
            if let Ok(bits) = self.rt.memory().read_vec(at, size as usize) {
                self.span_bits.push((s.start, end, bits));
            }
        }
        for i in 0..s.nelems {
            if !s.allocated(i) {
                continue;
            }
            let addr = s.start.wrapping_add(i.wrapping_mul(s.elemsize));
            let mut shape = if noscan {
                Shape::Noscan
            } else {
                Shape::Unknown
            };
            let mut typed_by = TypedBy::None;
            if header {
                let t = self.rt.memory().read_ptr(addr).unwrap_or(0);
                if self.is_type(t) {
                    let size = self.type_size(t);
                    shape = if size > 0 && s.elemsize.saturating_sub(PTR) >= size.saturating_mul(2)
                    {
                        Shape::Array(t)
                    } else {
                        Shape::Single(t)
                    };
                    typed_by = TypedBy::Header;
                }
            }
            self.push(addr, s.elemsize, class, noscan, header, shape, typed_by);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        addr: u64,
        size: u64,
        class: u8,
        noscan: bool,
        header: bool,
        shape: Shape,
        typed_by: TypedBy,
    ) {
        let label = self.label_for(shape, size, class);
        self.objects.push(Obj {
            addr,
            size,
            label,
            class,
            noscan,
            header,
            shape,
            typed_by,
        });
    }

    fn finish_objects(&mut self) {
        if !self.objects.is_sorted_by_key(|o| o.addr) {
            self.objects.sort_by_key(|o| o.addr);
        }
        self.heap_lo = self.objects.first().map_or(0, |o| o.addr);
        self.heap_hi = self
            .objects
            .last()
            .map_or(0, |o| o.addr.saturating_add(o.size));
        // Sorted: every object lies in [heap_lo, heap_hi).
        let span = self.heap_hi.saturating_sub(self.heap_lo);
        if span / PTR < u64::from(u32::MAX) {
            let lo = self.heap_lo;
            self.offs = self
                .objects
                .iter()
                .map(|o| (o.addr.saturating_sub(lo) / PTR) as u32)
                .collect();
        }
        let pages = span.div_ceil(PAGE);
        if pages <= MAX_PAGE_INDEX {
            let mut first = Vec::with_capacity((pages as usize).saturating_add(1));
            let mut i = 0usize;
            for page in 0..=pages {
                let at = self.heap_lo.saturating_add(page.saturating_mul(PAGE));
                while self.objects.get(i).is_some_and(|o| o.addr < at) {
                    i = i.saturating_add(1);
                }
                first.push(i as u32);
            }
            self.page_first = first;
        }
    }

    /// The size of the type descriptor at `t`; None when `t` is no descriptor.
    fn type_info(&mut self, t: u64) -> Option<u64> {
        if let Some(&known) = self.type_sizes.get(&t) {
            return known;
        }
        let types = self.types?;
        let (lo, hi) = types.type_range();
        let info = (t >= lo && t < hi && t.is_multiple_of(8))
            .then(|| types.size(t).ok())
            .flatten();
        self.type_sizes.insert(t, info);
        info
    }

    fn is_type(&mut self, t: u64) -> bool {
        self.type_info(t).is_some()
    }

    fn type_size(&mut self, t: u64) -> u64 {
        self.type_info(t).unwrap_or(0)
    }

    fn type_name(&self, t: u64) -> String {
        self.types
            .and_then(|ty| ty.name(t).ok())
            .unwrap_or_else(|| format!("type {t:#x}"))
    }

    fn intern(&mut self, name: String, shape_type: Option<u64>) -> u32 {
        if let Some(&i) = self.label_index.get(&name) {
            return i;
        }
        let i = self.labels.len() as u32;
        self.label_index.insert(name.clone(), i);
        self.labels.push(Label { name, shape_type });
        i
    }

    fn label_for(&mut self, shape: Shape, size: u64, class: u8) -> u32 {
        match shape {
            Shape::Unknown | Shape::Noscan | Shape::Closure if class != 0 => {
                // One label per class, made once: every object of unknown type asks.
                if let Some(&l) = self.class_labels.get(&class) {
                    return l;
                }
                let l = self.intern(format!("unknown (size class {class})"), None);
                self.class_labels.insert(class, l);
                l
            }
            Shape::Unknown | Shape::Noscan | Shape::Closure => {
                if class == 0 {
                    self.intern(format!("unknown (large object, {size} bytes)"), None)
                } else {
                    self.intern(format!("unknown (size class {class})"), None)
                }
            }
            Shape::Single(t) | Shape::MapHeader(t) | Shape::Chan(t) => {
                let name = self.type_name(t);
                self.intern(name, Some(t))
            }
            Shape::Array(t) => {
                let name = format!("[]{}", self.type_name(t));
                self.intern(name, Some(t))
            }
            Shape::SwissDir(t) => {
                let name = format!("{} directory", self.type_name(t));
                self.intern(name, Some(t))
            }
            Shape::SwissTable(t) => {
                let name = format!("{} table", self.type_name(t));
                self.intern(name, Some(t))
            }
        }
    }

    /// The object containing `p`.
    fn find(&self, p: u64) -> Option<u32> {
        if p < self.heap_lo || p >= self.heap_hi {
            return None;
        }
        let rel = p.wrapping_sub(self.heap_lo);
        let page = (rel / PAGE) as usize;
        // The object holding p starts in p's page or before it: search from the last object
        // starting before the page to the last starting in it.
        let (lo, hi) = match (
            self.page_first.get(page),
            self.page_first.get(page.saturating_add(1)),
        ) {
            (Some(&a), Some(&b)) => ((a as usize).saturating_sub(1), b as usize),
            _ => (0, self.objects.len()),
        };
        let i = if let Some(offs) = self.offs.get(lo..hi) {
            let key = (rel / PTR) as u32;
            lo.checked_add(offs.partition_point(|&w| w <= key).checked_sub(1)?)?
        } else {
            let slice = self.objects.get(lo..hi)?;
            lo.checked_add(slice.partition_point(|o| o.addr <= p).checked_sub(1)?)?
        };
        let o = self.objects.get(i)?;
        (p < o.addr.saturating_add(o.size)).then_some(i as u32)
    }

    fn plan(&mut self, t: u64) -> Arc<Plan> {
        if let Some(p) = self.plans.get(&t) {
            return Arc::clone(p);
        }
        let mut plan = Plan {
            size: self.type_size(t),
            slots: Vec::new(),
        };
        if let Some(types) = self.types {
            let ptr_bytes = types.read(t).map_or(0, |h| h.ptr_bytes);
            if ptr_bytes > 0 && !plan_of(types, t, 0, 0, &mut plan.slots) {
                plan.slots = vec![(0, Slot::Words(ptr_bytes))];
            }
        }
        let plan = Arc::new(plan);
        self.plans.insert(t, Arc::clone(&plan));
        plan
    }

    /// Pointers of a value of type `t` held in `buf` (which starts at `base`): each as
    /// (offset in buf, value, hint).
    fn typed_pointers(&mut self, t: u64, buf: &[u8], base: u64, out: &mut Vec<(u64, u64, Hint)>) {
        let plan = self.plan(t);
        for &(off, slot) in &plan.slots {
            let v = word(buf, off);
            match slot {
                Slot::Ptr(e) => out.push((off, v, Hint::Obj(e))),
                Slot::Slice(e) => out.push((off, v, Hint::Slice(e))),
                Slot::Str => out.push((off, v, Hint::Str)),
                Slot::Map(m) => out.push((off, v, Hint::Map(m))),
                Slot::Chan(c) => out.push((off, v, Hint::Chan(c))),
                Slot::Func => out.push((off, v, Hint::Func)),
                Slot::Unsafe => out.push((off, v, Hint::None)),
                Slot::Iface | Slot::Eface => {
                    let data = word(buf, off.wrapping_add(PTR));
                    let dynamic = if matches!(slot, Slot::Eface) {
                        v
                    } else if v == 0 {
                        0
                    } else {
                        let at = self.types.map_or(0, |ty| ty.itab_type_offset());
                        self.rt.memory().read_ptr(v.wrapping_add(at)).unwrap_or(0)
                    };
                    let hint = self.iface_hint(dynamic);
                    out.push((off.wrapping_add(PTR), data, hint));
                }
                Slot::Words(n) => {
                    let mut o = off;
                    while o < off.saturating_add(n) && (o as usize) < buf.len() {
                        out.push((o, word(buf, o), Hint::None));
                        o = o.saturating_add(PTR);
                    }
                }
            }
        }
        let _ = base;
    }

    /// What an interface's data word points to, given its dynamic type.
    fn iface_hint(&mut self, dynamic: u64) -> Hint {
        if !self.is_type(dynamic) {
            return Hint::None;
        }
        let Some(types) = self.types else {
            return Hint::None;
        };
        let Ok(h) = types.read(dynamic) else {
            return Hint::None;
        };
        if !h.direct_iface {
            return Hint::Obj(dynamic);
        }
        // A pointer-shaped value is the data word itself.
        match h.kind {
            Kind::Pointer => types
                .elem(dynamic)
                .ok()
                .flatten()
                .map_or(Hint::None, Hint::Obj),
            Kind::Map => Hint::Map(dynamic),
            Kind::Chan => Hint::Chan(dynamic),
            Kind::Func => Hint::Func,
            _ => {
                let plan = self.plan(dynamic);
                match plan.slots.first() {
                    Some((0, Slot::Ptr(e))) => Hint::Obj(*e),
                    Some((0, Slot::Map(m))) => Hint::Map(*m),
                    Some((0, Slot::Chan(c))) => Hint::Chan(*c),
                    _ => Hint::None,
                }
            }
        }
    }

    /// Gives object `k`, reached by a pointer `p` with `hint`, the type the hint says, when
    /// it has none yet and the hint fits it. Returns whether it did.
    fn assign(&mut self, k: u32, p: u64, hint: Hint) -> bool {
        let Some(o) = self.objects.get(k as usize).copied() else {
            return false;
        };
        if !matches!(o.shape, Shape::Unknown | Shape::Noscan) {
            return false;
        }
        let data = o.data_addr();
        let room = o.size.saturating_sub(data.wrapping_sub(o.addr));
        let shape = match hint {
            Hint::None | Hint::Str => return false,
            Hint::Func => {
                if o.noscan || p != o.addr {
                    return false;
                }
                Shape::Closure
            }
            Hint::Obj(t) | Hint::Slice(t) => {
                let size = self.type_size(t);
                if size == 0
                    || size > room
                    || p < data
                    || !p.wrapping_sub(data).is_multiple_of(size)
                {
                    return false;
                }
                let pointerless = self.plan(t).slots.is_empty();
                if o.noscan && !pointerless {
                    return false;
                }
                if matches!(hint, Hint::Slice(_)) || room >= size.saturating_mul(2) {
                    Shape::Array(t)
                } else {
                    Shape::Single(t)
                }
            }
            Hint::Map(t) => Shape::MapHeader(t),
            Hint::Chan(t) => Shape::Chan(t),
            Hint::SwissDir(t) => Shape::SwissDir(t),
            Hint::SwissTable(t) => Shape::SwissTable(t),
        };
        if matches!(
            hint,
            Hint::Map(_) | Hint::Chan(_) | Hint::SwissDir(_) | Hint::SwissTable(_)
        ) && (o.noscan || p != o.addr)
        {
            return false;
        }
        let label = self.label_for(shape, o.size, o.class);
        if let Some(obj) = self.objects.get_mut(k as usize) {
            obj.shape = shape;
            obj.label = label;
            obj.typed_by = TypedBy::Pointer;
        }
        true
    }

    /// The pointers of object `k` into other objects: (offset in the object, target, hint).
    fn scan(&mut self, k: u32, out: &mut Vec<Edge>) {
        let Some(o) = self.objects.get(k as usize).copied() else {
            return;
        };
        if o.noscan {
            return;
        }
        self.touched = self.touched.saturating_add(o.size);
        if self.touched > TRIM_BYTES {
            self.touched = 0;
            self.rt.memory().trim();
        }
        let mut raw: Vec<(u64, u64, Hint)> = Vec::new();
        match o.shape {
            Shape::Noscan => {}
            Shape::Unknown | Shape::Closure => {
                let skip = u64::from(matches!(o.shape, Shape::Closure));
                self.words(o.addr, o.size, skip, &mut raw);
                if let Some(bits) = self.pointer_bits(o.addr, o.size) {
                    raw.retain(|&(off, _, _)| {
                        let w = (off / PTR) as usize;
                        bits.get(w / 8).is_some_and(|b| b & (1 << (w % 8)) != 0)
                    });
                }
            }
            Shape::Single(t) | Shape::Array(t) => {
                let data = o.data_addr();
                let end = o.addr.saturating_add(o.size);
                let plan = self.plan(t);
                if plan.slots.is_empty() || plan.size == 0 {
                    return;
                }
                // plan.size is not 0 (checked above).
                let count = if matches!(o.shape, Shape::Single(_)) {
                    1
                } else {
                    end.saturating_sub(data).checked_div(plan.size).unwrap_or(0)
                };
                let per_chunk = CHUNK.checked_div(plan.size).unwrap_or(1).max(1);
                let mut i = 0u64;
                let mut vals = Vec::new();
                while i < count {
                    let n = per_chunk.min(count.wrapping_sub(i));
                    let at = data.wrapping_add(i.wrapping_mul(plan.size));
                    // It sizes a read: checked, though n <= max(CHUNK / size, 1) keeps it small.
                    let Some(len) = n.checked_mul(plan.size) else {
                        break;
                    };
                    let Ok(buf) = self.rt.memory().read_vec(at, len as usize) else {
                        break;
                    };
                    for e in 0..n {
                        vals.clear();
                        let from = e.wrapping_mul(plan.size);
                        let Some(piece) = buf.get(from as usize..) else {
                            break;
                        };
                        let elem_at = at.wrapping_add(from);
                        self.typed_pointers(t, piece, elem_at, &mut vals);
                        let shift = elem_at.wrapping_sub(o.addr);
                        raw.extend(
                            vals.iter()
                                .map(|&(off, v, h)| (shift.wrapping_add(off), v, h)),
                        );
                    }
                    i = i.saturating_add(n);
                }
            }
            Shape::MapHeader(t) => {
                let Ok(buf) = self.rt.memory().read_vec(o.addr, o.size.min(64) as usize) else {
                    return;
                };
                let group = self.types.and_then(|ty| ty.map_group(t).ok().flatten());
                let group_hint = |h: fn(u64) -> Hint| group.map_or(Hint::None, h);
                if self.swiss {
                    let dir = word(&buf, SWISS_DIR_PTR);
                    let len = word(&buf, SWISS_DIR_LEN);
                    let hint = if len == 0 {
                        group_hint(Hint::Obj)
                    } else {
                        group_hint(Hint::SwissDir)
                    };
                    raw.push((SWISS_DIR_PTR, dir, hint));
                } else {
                    for off in [HMAP_BUCKETS, HMAP_OLDBUCKETS] {
                        raw.push((off, word(&buf, off), group_hint(Hint::Slice)));
                    }
                    let mut rest = Vec::new();
                    self.words(o.addr, o.size, 0, &mut rest);
                    raw.extend(
                        rest.into_iter()
                            .filter(|&(off, _, _)| off != HMAP_BUCKETS && off != HMAP_OLDBUCKETS),
                    );
                }
            }
            Shape::SwissDir(g) => {
                let mut rest = Vec::new();
                self.words(o.addr, o.size, 0, &mut rest);
                raw.extend(
                    rest.into_iter()
                        .map(|(off, v, _)| (off, v, Hint::SwissTable(g))),
                );
            }
            Shape::SwissTable(g) => {
                let mut rest = Vec::new();
                self.words(o.addr, o.size, 0, &mut rest);
                raw.extend(rest.into_iter().map(|(off, v, h)| {
                    if off == SWISS_TABLE_GROUPS {
                        (off, v, Hint::Slice(g))
                    } else {
                        (off, v, h)
                    }
                }));
            }
            Shape::Chan(t) => {
                let mut rest = Vec::new();
                self.words(o.addr, o.size, 0, &mut rest);
                let elem = self.types.and_then(|ty| ty.elem(t).ok().flatten());
                let buf_off = self.hchan_buf;
                for (off, v, h) in rest {
                    if Some(off) == self.hchan_elemtype {
                        continue;
                    }
                    let h = match (Some(off) == buf_off, elem) {
                        (true, Some(e)) => Hint::Slice(e),
                        _ => h,
                    };
                    raw.push((off, v, h));
                }
            }
        }
        for (off, v, h) in raw {
            if let Some(t) = self.find(v) {
                out.push((u32::try_from(off).unwrap_or(NONE), t, h, v));
            }
        }
    }

    /// Which words of the object at `addr` hold pointers, one bit per word, from the heap's
    /// own bitmaps: the span's (go1.22+, objects of up to 512 bytes) or the arena's (go1.21).
    fn pointer_bits(&mut self, addr: u64, size: u64) -> Option<Vec<u8>> {
        let words = size / PTR;
        if let Some(off) = self.arena_bitmap {
            let ri = addr.wrapping_sub(ARENA_BASE_OFFSET) / ARENA_BYTES;
            let base = ri.wrapping_mul(ARENA_BYTES).wrapping_add(ARENA_BASE_OFFSET);
            let rt = self.rt;
            let l2 = self.arena_l2;
            let bitmap = self.arena_bits.entry(base).or_insert_with(|| {
                let arena = rt
                    .memory()
                    .read_ptr(l2?.wrapping_add(ri.wrapping_mul(8)))
                    .ok()?;
                rt.memory()
                    .read_vec(arena.wrapping_add(off), (ARENA_BYTES / PTR / 8) as usize)
                    .ok()
            });
            let first = addr.wrapping_sub(base) / PTR;
            return bitmap.as_ref().map(|b| bit_range(b, first, words));
        }
        let i = self
            .span_bits
            .partition_point(|&(start, _, _)| start <= addr)
            .checked_sub(1)?;
        let (start, end, bits) = self.span_bits.get(i)?;
        if addr >= *end {
            return None;
        }
        // start <= addr < end, by the search.
        Some(bit_range(bits, addr.wrapping_sub(*start) / PTR, words))
    }

    /// Every word of `[addr + skip words, addr + size)` that points into an object.
    fn words(&self, addr: u64, size: u64, skip: u64, out: &mut Vec<(u64, u64, Hint)>) {
        let mut at = skip.saturating_mul(PTR);
        while at < size {
            let n = CHUNK.min(size.wrapping_sub(at));
            let Ok(buf) = self.rt.memory().read_vec(addr.wrapping_add(at), n as usize) else {
                return;
            };
            for (k, c) in buf.chunks_exact(8).enumerate() {
                let v = word(c, 0);
                if v >= self.heap_lo && v < self.heap_hi {
                    out.push((at.wrapping_add((k as u64).wrapping_mul(8)), v, Hint::None));
                }
            }
            at = at.saturating_add(n);
        }
    }

    /// Carries types from typed roots and typed objects along typed pointers.
    fn propagate(&mut self, root_ptrs: &[(u32, u32, u64, Hint)]) {
        let mut work: Vec<u32> = Vec::new();
        for (i, o) in self.objects.iter().enumerate() {
            if matches!(o.typed_by, TypedBy::Header | TypedBy::Span) {
                work.push(i as u32);
            }
        }
        for &(_, _, v, h) in root_ptrs {
            if let Some(k) = self.find(v) {
                if self.assign(k, v, h) {
                    work.push(k);
                }
            }
        }
        let mut out = Vec::new();
        while let Some(k) = work.pop() {
            out.clear();
            self.scan(k, &mut out);
            for &(_, t, h, p) in &out {
                if h == Hint::None {
                    continue;
                }
                if self.assign(t, p, h) {
                    work.push(t);
                }
            }
        }
    }

    /// Names the objects still of unknown type that are closures: their first word is the
    /// entry of a function.
    fn name_unknown(&mut self) {
        let tab = self.rt.binary().pclntab();
        let bias = self.rt.bias();
        for k in 0..self.objects.len() {
            let Some(o) = self.objects.get(k).copied() else {
                continue;
            };
            if !matches!(o.shape, Shape::Unknown | Shape::Closure) || o.size > 4096 {
                continue;
            }
            let Ok(fnpc) = self.rt.memory().read_ptr(o.addr) else {
                continue;
            };
            let Some(f) = tab.find(fnpc.wrapping_sub(bias)) else {
                continue;
            };
            if f.entry() != fnpc.wrapping_sub(bias) {
                continue;
            }
            let label = self.intern(format!("func literal {}", f.name()), None);
            if let Some(obj) = self.objects.get_mut(k) {
                obj.shape = Shape::Closure;
                obj.label = label;
                obj.typed_by = TypedBy::Code;
            }
        }
    }

    /// Roots of finalizers and cleanups (span specials): the finalizer's function and what
    /// the object points to (not the object itself, which the finalizer does not keep
    /// alive); a cleanup's function and argument.
    fn special_roots(&mut self, layout: &RuntimeLayout, (roots, slots, ptrs): RootParts<'_>) {
        let Some(v) = self.rt.binary().go_version() else {
            return;
        };
        let (finalizer, cleanup) = match v.minor {
            ..=23 => (1, None),
            24 => (1, Some(6)),
            _ => (2, Some(7)),
        };
        let off_at = layout.field("runtime.special", "offset").ok();
        let kind_at = layout.offset("runtime.special", "kind").ok();
        let size = layout.size("runtime.special").ok();
        let (Some(off_at), Some(kind_at), Some(size)) = (off_at, kind_at, size) else {
            return;
        };
        let mem = &self.rt.memory();
        for (start, first) in std::mem::take(&mut self.specials) {
            let mut sp = first;
            let mut n = 0u32;
            while sp != 0 && n < 1 << 16 {
                n = n.saturating_add(1);
                let kind = mem.read_u8(sp.wrapping_add(kind_at)).unwrap_or(0);
                let off = match off_at.size {
                    2 => mem.read_u16(sp.wrapping_add(off_at.offset)).map(u64::from),
                    _ => mem.read_u64(sp.wrapping_add(off_at.offset)),
                }
                .unwrap_or(0);
                let obj = start.wrapping_add(off);
                let mut targets: Vec<(u64, Hint)> = Vec::new();
                let name = if kind == finalizer {
                    targets.push((mem.read_ptr(sp.wrapping_add(size)).unwrap_or(0), Hint::Func));
                    if let Some(k) = self.find(obj) {
                        let mut out = Vec::new();
                        self.scan(k, &mut out);
                        targets.extend(out.into_iter().map(|(_, _, h, v)| (v, h)));
                    }
                    format!("finalizer of {obj:#x}")
                } else if Some(kind) == cleanup {
                    // go1.24 and go1.25: fn, a closure holding the argument; go1.26+:
                    // cleanupFn {call, fn, arg}.
                    if v.minor <= 25 {
                        targets
                            .push((mem.read_ptr(sp.wrapping_add(size)).unwrap_or(0), Hint::Func));
                    } else {
                        targets.push((
                            mem.read_ptr(sp.wrapping_add(size).wrapping_add(PTR))
                                .unwrap_or(0),
                            Hint::Func,
                        ));
                        let arg = sp.wrapping_add(size).wrapping_add(2 * PTR);
                        targets.push((mem.read_ptr(arg).unwrap_or(0), Hint::None));
                    }
                    format!("cleanup of {obj:#x}")
                } else {
                    sp = mem.read_ptr(sp).unwrap_or(0);
                    continue;
                };
                targets.retain(|&(t, _)| self.find(t).is_some());
                if !targets.is_empty() {
                    let r = roots.len() as u32;
                    roots.push(Root {
                        kind: if kind == finalizer {
                            "finalizer"
                        } else {
                            "cleanup"
                        },
                        name,
                        goroutine: None,
                        addr: 0,
                    });
                    for (t, h) in targets {
                        let s = slots.len() as u32;
                        slots.push(RootSlot { at: 0, what: None });
                        ptrs.push((r, s, t, h));
                    }
                }
                sp = mem.read_ptr(sp).unwrap_or(0);
            }
        }
    }

    /// Roots of every goroutine's stack: its frames' live pointer slots, typed by DWARF
    /// where the binary has it; deferred calls.
    fn stack_roots(
        &mut self,
        dwarf: Option<&DwarfVars>,
        (roots, slots, ptrs): RootParts<'_>,
        g_addrs: &mut Vec<u64>,
    ) {
        let rt = self.rt;
        let tab = rt.binary().pclntab();
        rt.for_each_goroutine(true, |g| {
            g_addrs.push(g.gp);
            if g.status.starts_with("dead") || g.status == "idle" {
                return;
            }
            let frames: Vec<_> = g
                .frames
                .iter()
                .filter(|f| !f.inlined)
                .filter_map(|f| Some((f.pc?, f.sp?, f.fp?, Arc::clone(&f.function))))
                .collect();
            let sp = frames
                .first()
                .map(|f| f.1)
                .filter(|&sp| sp >= g.stack_lo && sp < g.stack_hi)
                .unwrap_or(g.stack_hi);
            let hi = g.stack_hi;
            let len = hi.saturating_sub(sp).min(MAX_STACK_BYTES);
            let Ok(stack) = rt.memory().read_vec(sp, len as usize) else {
                return;
            };
            let at = |a: u64| -> u64 { a.checked_sub(sp).map_or(0, |o| word(&stack, o)) };
            // A goroutine without frames is scanned whole; otherwise each frame by its stack
            // maps, but for frames stopped at no call — the innermost of a running goroutine,
            // one interrupted by a signal or an asynchronous preemption, asyncPreempt's own
            // saved registers — whose words are all taken, as the collector does.
            if frames.is_empty() || g.error.is_some() {
                let r =
                    push_goroutine_root(roots, "stack", format!("goroutine {} stack", g.id), g.id);
                for (k, c) in stack.chunks_exact(8).enumerate() {
                    let v = word(c, 0);
                    if v >= self.heap_lo && v < self.heap_hi {
                        let s = slots.len() as u32;
                        slots.push(RootSlot {
                            at: sp.wrapping_add((k as u64).wrapping_mul(8)),
                            what: None,
                        });
                        ptrs.push((r, s, v, Hint::None));
                    }
                }
                return;
            }
            let parked = g.status.starts_with("waiting") || g.status.starts_with("runnable");
            let interrupted = |i: usize| -> bool {
                let name = |k: usize| frames.get(k).map_or("", |f| &*f.3);
                (i == 0 && !parked)
                    || name(i) == "runtime.asyncPreempt"
                    || (i > 0
                        && matches!(
                            name(i.wrapping_sub(1)),
                            "runtime.sigpanic" | "runtime.asyncPreempt"
                        ))
            };
            // Live slots per frame first; a frame's address-taken stack objects count only
            // when a live pointer (or another counted stack object) points into them, as the
            // collector scans them: their words may be left over from earlier calls.
            type Found = Vec<(u64, Hint, Option<Arc<str>>)>;
            let mut per_frame: Vec<(Found, Vec<(u64, u64)>)> = Vec::new();
            for (i, &(pc, fsp, fp, _)) in frames.iter().enumerate() {
                let mut found: Found = Vec::new();
                let mut ranges: Vec<(u64, u64)> = Vec::new();
                let known = !interrupted(i)
                    && live_slots(
                        tab,
                        rt.bias(),
                        FrameSpan { pc, sp: fsp, fp },
                        |a| found.push((a, Hint::None, None)),
                        |lo, hi| ranges.push((lo, hi.min(g.stack_hi))),
                    );
                if !known {
                    found.clear();
                    ranges.clear();
                    for a in word_addrs(fsp, fp.min(hi)) {
                        found.push((a, Hint::None, None));
                    }
                }
                if let Some(dw) = dwarf {
                    let lookup = if i == 0 { pc } else { pc.wrapping_sub(1) };
                    self.type_frame(
                        dw,
                        lookup.wrapping_sub(rt.bias()),
                        fp,
                        &stack,
                        sp,
                        &mut found,
                    );
                }
                per_frame.push((found, ranges));
            }
            let mut values: Vec<u64> = per_frame
                .iter()
                .flat_map(|(f, _)| f.iter().map(|s| at(s.0)))
                .collect();
            let mut taken: Vec<Vec<bool>> = per_frame
                .iter()
                .map(|(_, r)| vec![false; r.len()])
                .collect();
            loop {
                values.sort_unstable();
                let mut more: Vec<u64> = Vec::new();
                for (fi, (_, ranges)) in per_frame.iter().enumerate() {
                    for (ri, &(lo, end)) in ranges.iter().enumerate() {
                        let Some(t) = taken.get_mut(fi).and_then(|t| t.get_mut(ri)) else {
                            continue;
                        };
                        let k = values.partition_point(|&v| v < lo);
                        if *t || values.get(k).is_none_or(|&v| v >= end) {
                            continue;
                        }
                        *t = true;
                        more.extend(word_addrs(lo, end).map(at));
                    }
                }
                if more.is_empty() {
                    break;
                }
                values.extend(more);
            }
            for (fi, (mut found, ranges)) in per_frame.into_iter().enumerate() {
                for (ri, (lo, end)) in ranges.into_iter().enumerate() {
                    if taken
                        .get(fi)
                        .and_then(|t| t.get(ri))
                        .copied()
                        .unwrap_or(false)
                    {
                        found.extend(word_addrs(lo, end).map(|a| (a, Hint::None, None)));
                    }
                }
                if found.is_empty() {
                    continue;
                }
                let func = frames.get(fi).map_or("?", |f| &*f.3);
                let r = roots.len() as u32;
                roots.push(Root {
                    kind: "stack",
                    name: format!("goroutine {}: {}", g.id, func),
                    goroutine: Some(g.id),
                    addr: 0,
                });
                found.sort_by_key(|f| (f.0, f.1 == Hint::None));
                found.dedup_by_key(|f| f.0);
                for (a, h, what) in found {
                    let v = at(a);
                    if v < self.heap_lo || v >= self.heap_hi {
                        continue;
                    }
                    let s = slots.len() as u32;
                    slots.push(RootSlot { at: a, what });
                    ptrs.push((r, s, v, h));
                }
            }
            let closures: Vec<u64> = g
                .defers
                .iter()
                .map(|d| d.closure)
                .filter(|&c| c != 0)
                .collect();
            if !closures.is_empty() {
                let name = format!("goroutine {}: deferred calls", g.id);
                let r = push_goroutine_root(roots, "defer", name, g.id);
                for c in closures {
                    let s = slots.len() as u32;
                    slots.push(RootSlot { at: 0, what: None });
                    ptrs.push((r, s, c, Hint::Func));
                }
            }
        });
    }

    /// Types the live slots of a frame from its DWARF variables: a slot inside a variable
    /// that lies on the stack gets the hint of the variable's type at that offset.
    fn type_frame(
        &mut self,
        dw: &DwarfVars,
        pc: u64,
        cfa: u64,
        stack: &[u8],
        sp: u64,
        found: &mut Vec<(u64, Hint, Option<Arc<str>>)>,
    ) {
        let live: std::collections::HashSet<u64> = found.iter().map(|f| f.0).collect();
        let vars = match self.frame_vars.get(&pc) {
            Some(v) => Arc::clone(v),
            None => {
                let bias = self.rt.bias();
                let mut list: FrameVarList = Vec::new();
                for v in dw.frame_vars(pc) {
                    let Some(t) = v
                        .rtype
                        .map(|t| t.wrapping_add(bias))
                        .filter(|&t| self.is_type(t))
                    else {
                        continue;
                    };
                    let pieces: Vec<(u64, u64, i64)> = v
                        .pieces
                        .iter()
                        .filter_map(|p| match p.loc {
                            // Bounded: a piece is a part of one variable in one frame.
                            PieceLoc::Cfa(off) if p.offset < 1 << 20 && p.size < 1 << 20 => {
                                Some((p.offset, p.size, off))
                            }
                            _ => None,
                        })
                        .collect();
                    if !pieces.is_empty() {
                        list.push((Arc::from(v.name.as_str()), t, pieces));
                    }
                }
                let list = Arc::new(list);
                self.frame_vars.insert(pc, Arc::clone(&list));
                list
            }
        };
        for (name, t, pieces) in vars.iter() {
            for &(offset, size, off) in pieces {
                let start = cfa.wrapping_add(off as u64);
                let Some(from) = start.checked_sub(sp) else {
                    continue;
                };
                let Some(buf) = usize::try_from(from).ok().and_then(|f| stack.get(f..)) else {
                    continue;
                };
                // The variable as if it started at `start - offset`.
                let mut vals = Vec::new();
                let mut whole = vec![0u8; offset as usize];
                whole.extend_from_slice(buf.get(..size as usize).unwrap_or(&[]));
                self.typed_pointers(*t, &whole, 0, &mut vals);
                for (o, _, h) in vals {
                    let Some(rel) = o.checked_sub(offset).filter(|&r| r < size) else {
                        continue;
                    };
                    let a = start.wrapping_add(rel);
                    if live.contains(&a) || name.starts_with('~') {
                        found.push((a, h, Some(Arc::clone(name))));
                    }
                }
            }
        }
    }

    /// Roots of the data and bss sections: typed per variable where DWARF has them, else
    /// the runtime's pointer bitmaps, grouped by the symbol containing each word.
    fn global_roots(&mut self, dwarf: Option<&DwarfVars>, (roots, slots, ptrs): RootParts<'_>) {
        let rt = self.rt;
        let bias = rt.bias();
        let mut covered: Vec<(u64, u64)> = Vec::new();
        if let Some(dw) = dwarf {
            for v in dw.globals() {
                let Some(t) = v
                    .rtype
                    .map(|t| t.wrapping_add(bias))
                    .filter(|&t| self.is_type(t))
                else {
                    continue;
                };
                let addr = v.addr.wrapping_add(bias);
                let size = v.size.max(self.type_size(t));
                if size == 0 || size > 1 << 30 {
                    continue;
                }
                let Ok(buf) = rt.memory().read_vec(addr, size as usize) else {
                    continue;
                };
                covered.push((addr, addr.saturating_add(size)));
                let mut vals = Vec::new();
                self.typed_pointers(t, &buf, addr, &mut vals);
                vals.retain(|&(_, v, _)| v >= self.heap_lo && v < self.heap_hi);
                if vals.is_empty() {
                    continue;
                }
                let r = roots.len() as u32;
                roots.push(Root {
                    kind: "global",
                    name: v.name.clone(),
                    goroutine: None,
                    addr,
                });
                let what: Arc<str> = Arc::from(v.name.as_str());
                for (off, val, h) in vals {
                    let s = slots.len() as u32;
                    slots.push(RootSlot {
                        at: addr.wrapping_add(off),
                        what: Some(Arc::clone(&what)),
                    });
                    ptrs.push((r, s, val, h));
                }
            }
        }
        covered.sort_unstable();
        let inside = |a: u64| {
            let i = covered.partition_point(|&(lo, _)| lo <= a);
            i.checked_sub(1)
                .and_then(|i| covered.get(i))
                .is_some_and(|&(_, hi)| a < hi)
        };
        let symbols = rt.binary().image().data_symbols();
        let Some(words) = rt.global_pointers() else {
            self.warnings
                .push("the runtime's pointer bitmaps of data and bss are unreadable".into());
            return;
        };
        let mut by_name: HashMap<String, u32> = HashMap::new();
        for (at, v) in words {
            if v < self.heap_lo || v >= self.heap_hi || inside(at) {
                continue;
            }
            let link = at.wrapping_sub(bias);
            let i = symbols.partition_point(|&(a, _, _)| a <= link);
            let name = match i.checked_sub(1).and_then(|i| symbols.get(i)) {
                Some(&(a, size, name)) if link < a.saturating_add(size.max(8)) => name.to_string(),
                _ => format!("global {at:#x}"),
            };
            let r = *by_name.entry(name.clone()).or_insert_with(|| {
                let r = roots.len() as u32;
                roots.push(Root {
                    kind: "global",
                    name,
                    goroutine: None,
                    addr: at,
                });
                r
            });
            let s = slots.len() as u32;
            slots.push(RootSlot { at, what: None });
            ptrs.push((r, s, v, Hint::None));
        }
        ptrs.sort_by_key(|p| p.0);
    }
}

/// Appends the pointer slots of type `t` at byte offset `base`; false when the type cannot
/// be listed (too deep, too many slots, unreadable).
fn plan_of<M: Memory>(
    types: &TypeReader<M>,
    t: u64,
    base: u64,
    depth: usize,
    out: &mut Vec<(u64, Slot)>,
) -> bool {
    if depth > MAX_TYPE_DEPTH || out.len() > MAX_PLAN_SLOTS {
        return false;
    }
    let Ok(h) = types.read(t) else {
        return false;
    };
    if h.ptr_bytes == 0 {
        return true;
    }
    let elem = || types.elem(t).ok().flatten().unwrap_or(0);
    match h.kind {
        Kind::Pointer => out.push((base, Slot::Ptr(elem()))),
        Kind::UnsafePointer => out.push((base, Slot::Unsafe)),
        Kind::String => out.push((base, Slot::Str)),
        Kind::Slice => out.push((base, Slot::Slice(elem()))),
        Kind::Map => out.push((base, Slot::Map(t))),
        Kind::Chan => out.push((base, Slot::Chan(t))),
        Kind::Func => out.push((base, Slot::Func)),
        Kind::Interface => {
            let empty = types.interface_method_count(t).ok().flatten() == Some(0);
            out.push((base, if empty { Slot::Eface } else { Slot::Iface }));
        }
        Kind::Array => {
            let e = elem();
            let n = types.array_len(t).ok().flatten().unwrap_or(0);
            let Ok(esize) = types.size(e) else {
                return false;
            };
            let mut one = Vec::new();
            if !plan_of(types, e, 0, depth.saturating_add(1), &mut one) {
                return false;
            }
            if one.is_empty() {
                return true;
            }
            if (n as usize)
                .saturating_mul(one.len())
                .saturating_add(out.len())
                > MAX_PLAN_SLOTS
            {
                out.push((base, Slot::Words(h.ptr_bytes)));
                return true;
            }
            for i in 0..n {
                let at = base.wrapping_add(i.wrapping_mul(esize));
                out.extend(one.iter().map(|&(o, s)| (at.wrapping_add(o), s)));
            }
        }
        Kind::Struct => {
            let Ok(fields) = types.fields(t) else {
                return false;
            };
            for f in fields {
                if !plan_of(
                    types,
                    f.typ,
                    base.wrapping_add(f.offset),
                    depth.saturating_add(1),
                    out,
                ) {
                    return false;
                }
            }
        }
        _ => {}
    }
    true
}

impl HeapGraph {
    pub fn node_count(&self) -> usize {
        self.object_base().saturating_add(self.objects.len())
    }

    /// The node of the first object: node 0 is the root of roots, the roots follow.
    pub(super) fn object_base(&self) -> usize {
        self.roots.len().saturating_add(1)
    }

    /// The object node of `k`.
    fn obj_of(&self, node: u32) -> Option<&Obj> {
        (node as usize)
            .checked_sub(self.object_base())
            .and_then(|i| self.objects.get(i))
    }

    fn succ(&self, node: u32) -> &[u32] {
        let lo = self.offsets.get(node as usize).copied().unwrap_or(0) as usize;
        let hi = self
            .offsets
            .get((node as usize).saturating_add(1))
            .copied()
            .unwrap_or(0) as usize;
        self.targets.get(lo..hi).unwrap_or(&[])
    }

    fn breadth_first(&mut self) {
        let n = self.node_count();
        self.parent = vec![NONE; n];
        self.parent_edge = vec![NONE; n];
        self.first_root = vec![NONE; n];
        let mut queue: std::collections::VecDeque<u32> = std::collections::VecDeque::new();
        if let Some(p) = self.parent.get_mut(0) {
            *p = 0;
        }
        queue.push_back(0);
        while let Some(v) = queue.pop_front() {
            let lo = self.offsets.get(v as usize).copied().unwrap_or(0);
            let hi = self
                .offsets
                .get((v as usize).saturating_add(1))
                .copied()
                .unwrap_or(0);
            let root = if v == 0 {
                NONE
            } else if (v as usize) < self.object_base() {
                v.wrapping_sub(1)
            } else {
                self.first_root.get(v as usize).copied().unwrap_or(NONE)
            };
            for e in lo..hi {
                let Some(&t) = self.targets.get(e as usize) else {
                    continue;
                };
                if self.parent.get(t as usize).is_some_and(|&p| p == NONE) {
                    if let Some(p) = self.parent.get_mut(t as usize) {
                        *p = v;
                    }
                    if let Some(p) = self.parent_edge.get_mut(t as usize) {
                        *p = e as u32;
                    }
                    if let Some(r) = self.first_root.get_mut(t as usize) {
                        *r = if v == 0 { t.wrapping_sub(1) } else { root };
                    }
                    queue.push_back(t);
                }
            }
        }
    }

    /// The node first pointing at `node` (0 at a root or when unreachable).
    pub(super) fn parent_of(&self, node: u32) -> u32 {
        match self.parent.get(node as usize) {
            Some(&p) if p != NONE => p,
            _ => 0,
        }
    }

    /// The object containing `addr`, as its index in `objects`.
    pub fn object_at(&self, addr: u64) -> Option<usize> {
        let i = self
            .objects
            .partition_point(|o| o.addr <= addr)
            .checked_sub(1)?;
        let o = self.objects.get(i)?;
        (addr < o.addr.saturating_add(o.size)).then_some(i)
    }

    pub fn label_name(&self, label: u32) -> &str {
        self.labels
            .get(label as usize)
            .map_or("?", |l| l.name.as_str())
    }

    /// Whether object `i` is reachable from a root.
    pub fn reachable(&self, i: usize) -> bool {
        self.parent
            .get(self.object_base().saturating_add(i))
            .is_some_and(|&p| p != NONE)
    }

    /// The index (in `roots`) of the root object `i` is first reached from.
    pub fn root_index_of(&self, i: usize) -> Option<usize> {
        let r = *self.first_root.get(self.object_base().saturating_add(i))?;
        (r != NONE).then_some(r as usize)
    }

    /// The root object `i` is first reached from.
    pub fn root_of(&self, i: usize) -> Option<&Root> {
        let r = *self.first_root.get(self.object_base().saturating_add(i))?;
        self.roots.get(r as usize)
    }

    /// The shortest path from a root to object `i`: the root, then each object with the
    /// field (or variable) of the previous step pointing at it.
    pub fn path_to(&self, i: usize, types: Option<&TypeReader<Arc<dyn Memory>>>) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut node = self.object_base().saturating_add(i) as u32;
        let mut guard = 0u32;
        while node != 0 && guard < 100_000 {
            guard = guard.saturating_add(1);
            let Some(&p) = self.parent.get(node as usize) else {
                break;
            };
            if p == NONE {
                return Vec::new();
            }
            let edge = self.parent_edge.get(node as usize).copied().unwrap_or(NONE);
            let at = self.edge_at.get(edge as usize).copied().unwrap_or(NONE);
            if let Some(o) = self.obj_of(node) {
                let via = if let Some(po) = self.obj_of(p) {
                    field_path(self, po, at, types)
                } else {
                    self.root_slots
                        .get(at as usize)
                        .and_then(|s| s.what.as_deref().map(str::to_string))
                };
                steps.push(Step::Object {
                    addr: o.data_addr(),
                    size: o.size,
                    type_name: self.label_name(o.label).to_string(),
                    typed_by: o.typed_by,
                    via,
                    at: self
                        .root_slots
                        .get(at as usize)
                        .map(|s| s.at)
                        .filter(|_| self.obj_of(p).is_none()),
                });
            } else if let Some(r) = self.roots.get((node as usize).wrapping_sub(1)) {
                steps.push(Step::Root(r.clone()));
            }
            node = p;
        }
        steps.reverse();
        steps
    }
}

/// The field of `o` at byte offset `at` (`.entries[3].name`), when its type is known.
fn field_path(
    g: &HeapGraph,
    o: &Obj,
    at: u32,
    types: Option<&TypeReader<Arc<dyn Memory>>>,
) -> Option<String> {
    let at = u64::from(at);
    let types = types?;
    let t = g.labels.get(o.label as usize)?.shape_type?;
    let data = if o.header { PTR } else { 0 };
    let off = at.checked_sub(data)?;
    match o.shape {
        Shape::Single(_) => Some(describe_offset(types, t, off, 0).unwrap_or(format!("+{off}"))),
        Shape::Array(_) => {
            let size = types.size(t).ok().and_then(NonZeroU64::new)?;
            let rest = describe_offset(types, t, off % size, 0).unwrap_or_default();
            Some(format!("[{}]{rest}", off / size))
        }
        _ => Some(format!("+{at}")),
    }
}

fn describe_offset<M: Memory>(
    types: &TypeReader<M>,
    t: u64,
    off: u64,
    depth: usize,
) -> Option<String> {
    if depth > MAX_TYPE_DEPTH {
        return None;
    }
    match types.kind(t).ok()? {
        Kind::Struct => {
            let fields = types.fields(t).ok()?;
            let f = fields.iter().rev().find(|f| f.offset <= off)?;
            let rest = describe_offset(
                types,
                f.typ,
                off.wrapping_sub(f.offset),
                depth.saturating_add(1),
            )
            .unwrap_or_default();
            Some(format!(".{}{rest}", f.name))
        }
        Kind::Array => {
            let e = types.elem(t).ok()??;
            let size = types.size(e).ok().and_then(NonZeroU64::new)?;
            let rest =
                describe_offset(types, e, off % size, depth.saturating_add(1)).unwrap_or_default();
            Some(format!("[{}]{rest}", off / size))
        }
        _ => Some(String::new()),
    }
}

/// One step of a path from a root.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "step", rename_all = "lowercase")]
pub enum Step {
    Root(Root),
    Object {
        addr: u64,
        size: u64,
        #[serde(rename = "type")]
        type_name: String,
        typed_by: TypedBy,
        /// The variable or field of the previous step that points here.
        #[serde(skip_serializing_if = "Option::is_none")]
        via: Option<String>,
        /// For the first object: the address of the root's word pointing at it.
        #[serde(skip_serializing_if = "Option::is_none")]
        at: Option<u64>,
    },
}

impl HeapGraph {
    /// Reachability for goroutine leaks (the definition of Go's goroutine leak profile):
    /// from every root but the stacks of goroutines blocked on channels and sync objects,
    /// and through anything but the goroutine structs and the runtime's other records
    /// (`records`: sudogs), with a blocked goroutine's stack becoming a root once something
    /// it waits on is reached. Returns the blocked goroutines never reached: `blocked` lists
    /// each with the addresses it waits on.
    ///
    /// A sudog's links are the runtime's bookkeeping: a semaphore treap joins the sudogs of
    /// unrelated semaphores whose addresses share a hash bucket, a wait queue neighbours. What
    /// a sudog points to of the program's (the channel, the value, the semaphore) its
    /// goroutine's stack holds too.
    pub fn unreachable_waiters(
        &self,
        blocked: &[(u64, Vec<u64>)],
        always: &dyn Fn(u64) -> bool,
        skip_root: &dyn Fn(&Root) -> bool,
        records: &std::collections::HashSet<u64>,
    ) -> Vec<u64> {
        let n = self.node_count();
        let base = self.object_base();
        let mut marked = vec![false; n];
        let mut stop = vec![false; n];
        let record_nodes = records
            .iter()
            .filter_map(|&a| self.object_at(a).map(|i| base.saturating_add(i) as u32));
        for g in self.g_nodes.iter().copied().chain(record_nodes) {
            if let Some(s) = stop.get_mut(g as usize) {
                *s = true;
            }
        }
        let blocked_ids: std::collections::HashSet<u64> = blocked.iter().map(|b| b.0).collect();
        // Goroutines each node's object wakes when reached; goroutines always reached.
        let mut wakes: HashMap<u32, Vec<u64>> = HashMap::new();
        let mut woken: std::collections::HashSet<u64> = std::collections::HashSet::new();
        for (id, addrs) in blocked {
            for &a in addrs {
                match self.object_at(a) {
                    Some(i) if !always(a) => wakes
                        .entry(base.saturating_add(i) as u32)
                        .or_default()
                        .push(*id),
                    // Not in the heap (a global, or memory the walk did not see): as the
                    // runtime's own leak detection, taken as reachable.
                    _ => {
                        woken.insert(*id);
                    }
                }
            }
        }
        let mut roots_of: HashMap<u64, Vec<u32>> = HashMap::new();
        let mut stack: Vec<u32> = Vec::new();
        for (r, root) in self.roots.iter().enumerate() {
            let node = r.saturating_add(1) as u32;
            match root.goroutine {
                Some(id) if blocked_ids.contains(&id) => {
                    roots_of.entry(id).or_default().push(node);
                }
                _ if skip_root(root) => {}
                _ => stack.push(node),
            }
        }
        let mut pending: Vec<u64> = woken.iter().copied().collect();
        loop {
            for id in pending.drain(..) {
                stack.extend(roots_of.get(&id).into_iter().flatten().copied());
            }
            while let Some(v) = stack.pop() {
                let Some(m) = marked.get_mut(v as usize) else {
                    continue;
                };
                if *m {
                    continue;
                }
                *m = true;
                if let Some(ids) = wakes.get(&v) {
                    for &id in ids {
                        if woken.insert(id) {
                            pending.push(id);
                        }
                    }
                }
                if stop.get(v as usize).copied().unwrap_or(false) {
                    continue;
                }
                stack.extend(
                    self.succ(v)
                        .iter()
                        .filter(|&&t| !marked.get(t as usize).copied().unwrap_or(true)),
                );
            }
            if pending.is_empty() {
                break;
            }
        }
        let mut out: Vec<u64> = blocked
            .iter()
            .map(|b| b.0)
            .filter(|id| !woken.contains(id))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}
