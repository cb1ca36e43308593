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
                    sudog_c: sg("c")?,
                    qcount: hc("qcount")?,
                    dataqsiz: hc("dataqsiz")?,
                    closed: hc("closed")?,
                    elemtype: hc("elemtype")?,
                    recvq_first: hc("recvq.first")?,
                    sendq_first: hc("sendq.first")?,
                }
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
