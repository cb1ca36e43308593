//! The runtime field offsets the goroutine walker needs, resolved once from a layout so the
//! hot loops read fixed numbers instead of looking names up.

use crate::error::{Error, ErrorKind, Result};

/// Offsets inside `runtime.g`.
#[derive(Debug, Clone, Copy, Default)]
pub struct GOffsets {
    pub size: u64,
    pub stack_lo: u64,
    pub stack_hi: u64,
    pub panic: u64,
    pub defer: u64,
    pub m: u64,
    pub sched_sp: u64,
    pub sched_pc: u64,
    pub sched_lr: u64,
    pub sched_bp: u64,
    pub syscallsp: u64,
    pub syscallpc: u64,
    pub atomicstatus: u64,
    pub goid: u64,
    pub waitsince: u64,
    pub waitreason: u64,
    pub lockedm: u64,
    pub labels: u64,
    pub startpc: u64,
    pub gopc: u64,
    pub parent_goid: Option<u64>,
    pub waiting: u64,
}

/// Offsets inside `runtime.m`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MOffsets {
    pub size: u64,
    pub g0: u64,
    pub procid: u64,
    pub gsignal: u64,
    pub curg: u64,
    pub p: u64,
    pub id: u64,
    pub alllink: u64,
    pub lockedg: u64,
    pub throwing: Option<u64>,
    pub ncgo: u64,
    pub vdso_sp: Option<u64>,
    pub vdso_pc: Option<u64>,
}

/// Offsets inside `runtime.p`.
#[derive(Debug, Clone, Copy, Default)]
pub struct POffsets {
    pub id: u64,
    pub status: u64,
    pub m: u64,
    pub runqhead: u64,
    pub runqtail: u64,
    pub runnext: u64,
}

/// Offsets inside `runtime.schedt`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SchedOffsets {
    pub size: u64,
    pub goidgen: u64,
    pub lastpoll: u64,
    pub midle: u64,
    pub nmidle: u64,
    pub nmfreed: u64,
    pub mnext: u64,
    pub maxmcount: u64,
    pub pidle: u64,
    pub npidle: u64,
    pub nmspinning: u64,
}

/// Offsets inside `runtime._defer`. Fields that only some releases have are options:
/// `started`, `open_defer`, `fd` and `varp` up to go1.21; `rangefunc` and `head` from go1.22.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeferOffsets {
    pub heap: u64,
    pub sp: u64,
    pub pc: u64,
    pub func: u64,
    pub link: u64,
    pub started: Option<u64>,
    pub open_defer: Option<u64>,
    pub rangefunc: Option<u64>,
    pub head: Option<u64>,
}

/// Offsets inside `runtime._panic`. `aborted` exists up to go1.21, `repanicked` from go1.25.
#[derive(Debug, Clone, Copy, Default)]
pub struct PanicOffsets {
    pub arg_type: u64,
    pub arg_data: u64,
    pub link: u64,
    pub recovered: u64,
    pub goexit: u64,
    pub aborted: Option<u64>,
    pub repanicked: Option<u64>,
}

/// Offsets of the signal a goroutine took (`g.sig` and friends), for the crash cause.
#[derive(Debug, Clone, Copy, Default)]
pub struct SigOffsets {
    pub sig: u64,
    pub sigcode0: u64,
    pub sigcode1: u64,
    pub sigpc: u64,
}

/// Offsets for finding the heap object around an address: `mheap_.arenas`, each
/// `heapArena`'s span map, and the span's bounds and object size.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeapOffsets {
    pub mheap_arenas: u64,
    pub arena_spans: u64,
    pub span_start: u64,
    pub span_npages: u64,
    pub span_elemsize: u64,
    pub span_state: u64,
    /// `moduledata.gcdatamask` / `gcbssmask`: the pointer bitmaps of .data and .bss the
    /// runtime builds at start-up (`bitvector{n int32, bytedata *uint8}`).
    pub gcdatamask: Option<u64>,
    pub gcbssmask: Option<u64>,
}

/// Offsets for semaphore and condition-variable waits: `runtime.semtable`'s roots and their
/// sudog treaps, `notifyList`s, and the sync types whose semaphores goroutines wait on. The
/// sync types have kept one layout in every supported release; the tables record them.
#[derive(Debug, Clone, Copy, Default)]
pub struct SemaOffsets {
    pub sudog_elem: u64,
    pub sudog_prev: u64,
    pub sudog_next: u64,
    pub sudog_parent: u64,
    pub sudog_waitlink: u64,
    pub sudog_g: u64,
    pub root_treap: u64,
    /// Bytes between two roots of `semtable` (a root padded to a cache line).
    pub root_stride: u64,
    pub table_size: u64,
    pub notify_head: u64,
    pub cond_notify: u64,
    pub mutex_state: u64,
    pub mutex_sema: u64,
    pub rw_writer_sem: u64,
    pub rw_reader_sem: u64,
    pub rw_reader_count: u64,
    pub rw_reader_wait: u64,
    pub wg_state: u64,
    pub wg_sema: u64,
    /// `hchan.timer` (go1.23+): set on the channels of timers.
    pub chan_timer: Option<u64>,
}

/// Offsets inside `runtime.sudog` and `runtime.hchan`, for what goroutines wait on.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChanOffsets {
    pub sudog_g: u64,
    pub sudog_next: u64,
    pub sudog_waitlink: u64,
    pub sudog_c: u64,
    pub qcount: u64,
    pub dataqsiz: u64,
    pub closed: u64,
    pub elemtype: u64,
    pub recvq_first: u64,
    pub sendq_first: u64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Offsets {
    pub chan: ChanOffsets,
    pub g: GOffsets,
    pub m: MOffsets,
    pub p: POffsets,
    pub sched: SchedOffsets,
    pub defer: DeferOffsets,
    pub panic: PanicOffsets,
    pub sig: SigOffsets,
    pub sema: SemaOffsets,
    pub heap: HeapOffsets,
}

impl Offsets {
    /// Resolves every offset through `field(type, dotted_field)` and `size(type)`.
    pub fn resolve(
        field: &dyn Fn(&str, &str) -> Option<u64>,
        size: &dyn Fn(&str) -> Option<u64>,
    ) -> Result<Offsets> {
        let need = |t: &str, f: &str| {
            field(t, f).ok_or_else(|| {
                Error::new(
                    ErrorKind::Unsupported,
                    format!("the runtime layout has no {t}.{f}"),
                )
            })
        };
        let g = |f: &str| need("runtime.g", f);
        let m = |f: &str| need("runtime.m", f);
        Ok(Offsets {
            g: GOffsets {
                size: size("runtime.g").unwrap_or(0),
                stack_lo: g("stack.lo")?,
                stack_hi: g("stack.hi")?,
                panic: g("_panic")?,
                defer: g("_defer")?,
                m: g("m")?,
                sched_sp: g("sched.sp")?,
                sched_pc: g("sched.pc")?,
                sched_lr: g("sched.lr")?,
                sched_bp: g("sched.bp")?,
                syscallsp: g("syscallsp")?,
                syscallpc: g("syscallpc")?,
                atomicstatus: g("atomicstatus")?,
                goid: g("goid")?,
                waitsince: g("waitsince")?,
                waitreason: g("waitreason")?,
                lockedm: g("lockedm")?,
                labels: g("labels")?,
                startpc: g("startpc")?,
                gopc: g("gopc")?,
                parent_goid: field("runtime.g", "parentGoid"),
                waiting: g("waiting")?,
            },
            m: MOffsets {
                size: size("runtime.m").unwrap_or(0),
                g0: m("g0")?,
                procid: m("procid")?,
                gsignal: m("gsignal")?,
                curg: m("curg")?,
                p: m("p")?,
                id: m("id")?,
                alllink: m("alllink")?,
                lockedg: m("lockedg")?,
                throwing: field("runtime.m", "throwing"),
                ncgo: m("ncgo")?,
                vdso_sp: field("runtime.m", "vdsoSP"),
                vdso_pc: field("runtime.m", "vdsoPC"),
            },
            p: POffsets {
                id: need("runtime.p", "id")?,
                status: need("runtime.p", "status")?,
                m: need("runtime.p", "m")?,
                runqhead: need("runtime.p", "runqhead")?,
                runqtail: need("runtime.p", "runqtail")?,
                runnext: need("runtime.p", "runnext")?,
            },
            sched: {
                let f = |n: &str| need("runtime.schedt", n);
                SchedOffsets {
                    size: size("runtime.schedt").unwrap_or(0),
                    goidgen: f("goidgen")?,
                    lastpoll: f("lastpoll")?,
                    midle: f("midle")?,
                    nmidle: f("nmidle")?,
                    nmfreed: f("nmfreed")?,
                    mnext: f("mnext")?,
                    maxmcount: f("maxmcount")?,
                    pidle: f("pidle")?,
                    npidle: f("npidle")?,
                    nmspinning: f("nmspinning")?,
                }
            },
            defer: {
                let f = |n: &str| need("runtime._defer", n);
                let opt = |n: &str| field("runtime._defer", n);
                DeferOffsets {
                    heap: f("heap")?,
                    sp: f("sp")?,
                    pc: f("pc")?,
                    func: f("fn")?,
                    link: f("link")?,
                    started: opt("started"),
                    open_defer: opt("openDefer"),
                    rangefunc: opt("rangefunc"),
                    head: opt("head"),
                }
            },
            panic: {
                let f = |n: &str| need("runtime._panic", n);
                let opt = |n: &str| field("runtime._panic", n);
                PanicOffsets {
                    arg_type: f("arg._type")?,
                    arg_data: f("arg.data")?,
                    link: f("link")?,
                    recovered: f("recovered")?,
                    goexit: f("goexit")?,
                    aborted: opt("aborted"),
                    repanicked: opt("repanicked"),
                }
            },
            chan: {
                let sg = |n: &str| need("runtime.sudog", n);
                let hc = |n: &str| need("runtime.hchan", n);
                ChanOffsets {
                    sudog_g: sg("g")?,
                    sudog_next: sg("next")?,
                    sudog_waitlink: sg("waitlink")?,
                    sudog_c: field("runtime.sudog", "c.maybeTraceablePtr.vu")
                        .map_or_else(|| sg("c"), Ok)?,
                    qcount: hc("qcount")?,
                    dataqsiz: hc("dataqsiz")?,
                    closed: hc("closed")?,
                    elemtype: hc("elemtype")?,
                    recvq_first: hc("recvq.first")?,
                    sendq_first: hc("sendq.first")?,
                }
            },
            sema: {
                let sg = |n: &str| need("runtime.sudog", n);
                // go1.26 keeps waited-on pointers twice (`vp`, hidden from the GC while it
                // looks for leaked goroutines, and `vu`); `vu` always holds the address.
                let elem = field("runtime.sudog", "elem.vu").map_or_else(|| sg("elem"), Ok)?;
                let opt = |t: &str, f: &str, default: u64| field(t, f).unwrap_or(default);
                SemaOffsets {
                    sudog_elem: elem,
                    sudog_prev: sg("prev")?,
                    sudog_next: sg("next")?,
                    sudog_parent: sg("parent")?,
                    sudog_waitlink: sg("waitlink")?,
                    sudog_g: sg("g")?,
                    root_treap: opt("runtime.semaRoot", "treap", 8),
                    root_stride: size("runtime.semTable")
                        .map(|s| s / 251)
                        .filter(|&s| s > 0)
                        .unwrap_or(64),
                    table_size: 251,
                    notify_head: opt("runtime.notifyList", "head", 16),
                    cond_notify: opt("sync.Cond", "notify", 16),
                    mutex_state: opt("internal/sync.Mutex", "state", 0),
                    mutex_sema: field("internal/sync.Mutex", "sema")
                        .or_else(|| field("sync.Mutex", "sema"))
                        .unwrap_or(4),
                    rw_writer_sem: opt("sync.RWMutex", "writerSem", 8),
                    rw_reader_sem: opt("sync.RWMutex", "readerSem", 12),
                    rw_reader_count: opt("sync.RWMutex", "readerCount", 16),
                    rw_reader_wait: opt("sync.RWMutex", "readerWait", 20),
                    wg_state: opt("sync.WaitGroup", "state", 0),
                    wg_sema: opt("sync.WaitGroup", "sema", 8),
                    chan_timer: field("runtime.hchan", "timer"),
                }
            },
            heap: HeapOffsets {
                mheap_arenas: need("runtime.mheap", "arenas")?,
                arena_spans: need("runtime.heapArena", "spans")?,
                span_start: need("runtime.mspan", "startAddr")?,
                span_npages: need("runtime.mspan", "npages")?,
                span_elemsize: need("runtime.mspan", "elemsize")?,
                span_state: need("runtime.mspan", "state")?,
                gcdatamask: field("runtime.moduledata", "gcdatamask"),
                gcbssmask: field("runtime.moduledata", "gcbssmask"),
            },
            sig: SigOffsets {
                sig: g("sig")?,
                sigcode0: g("sigcode0")?,
                sigcode1: g("sigcode1")?,
                sigpc: g("sigpc")?,
            },
        })
    }
}
