//! The Go runtime's own view of a process, read from its memory: every M and thread, every
//! goroutine with its state and stack. Works from a core file or a live process, with or
//! without DWARF and symbols.
//!
//! Decoding only: this layer reads what the runtime keeps (roots, threads, goroutines, the
//! unwinder, stack maps, defers, panics, types, channels and sync queues, the scheduler, heap
//! spans) and concludes nothing; what is made of it lives in [`crate::analysis`], how it is
//! printed in [`crate::report`].

mod channels;
pub mod filter;
mod goroutine;
mod heap;
pub mod heapwalk;
mod offsets;
mod panics;
pub mod panicval;
pub mod sched;
mod stackmap;
pub mod step;
mod sync;
pub mod types;
pub mod unwind;

/// Every fixture core under build/fixtures, for tests that check the scans of stripped
/// binaries (ignored in a plain `cargo test`; scripts/test runs them): the integration tests'
/// own helper, compiled in here too so that both find the same cores.
#[cfg(test)]
#[path = "../../tests/common/fixtures.rs"]
mod fixtures;
#[cfg(test)]
use self::fixtures::fixture_cores;

use std::sync::Arc;

use serde::Serialize;

use crate::binary::Binary;
use crate::error::{Error, ErrorKind, Result};
use crate::target::{Memory, MemoryExt, Thread};

pub use self::channels::Channel;
pub use self::filter::{GoroutineFilter, UserCode};
pub use self::goroutine::{state_text, CreatedBy, Frame, FrameCache, Goroutine, SourceRef};
pub use self::heap::HeapIndex;
pub use self::offsets::Offsets;
pub use self::panics::{Defer, Panic};
pub use self::stackmap::{live_slots, FrameSpan};

use self::unwind::{Code, GStack, StackKind, Stacks};

/// Bounds on walks over target lists, so a corrupt core can never make goscope loop.
pub const MAX_MS: usize = 1 << 16;
pub const MAX_GOROUTINES: u64 = 1 << 24;
/// Frames shown per goroutine unless the limits say otherwise.
pub const DEFAULT_MAX_FRAMES: usize = 100_000;
/// The most frames one stack is unwound for, whatever the limits say: a walk that gets this
/// far stops with an error.
pub const MAX_FRAMES_CAP: usize = 1 << 20;

/// How much of the goroutines a listing shows: frames per goroutine, goroutines read, and the
/// elements of each runtime list a goroutine carries (pending deferred calls, panics). 0
/// stands for the built-in cap (`MAX_FRAMES_CAP`, `MAX_GOROUTINES`, each list's own bound),
/// never for no bound at all.
///
/// The limits apply to listings of goroutines (`goroutines`, `bt`, `panic`, `defer` and
/// single goroutines). Analyses that must see everything to be right — the heap's object
/// graph, stuck goroutines, the crash — read within the built-in caps only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub max_frames: usize,
    pub max_goroutines: u64,
    pub max_list: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frames: DEFAULT_MAX_FRAMES,
            max_goroutines: 0,
            max_list: 0,
        }
    }
}

impl Limits {
    /// Only the built-in caps.
    pub const CAPS: Limits = Limits {
        max_frames: 0,
        max_goroutines: 0,
        max_list: 0,
    };

    /// Frames shown per goroutine.
    pub fn frames(&self) -> usize {
        match self.max_frames {
            0 => MAX_FRAMES_CAP,
            n => n.min(MAX_FRAMES_CAP),
        }
    }

    /// Goroutines read.
    pub fn goroutines(&self) -> u64 {
        match self.max_goroutines {
            0 => MAX_GOROUTINES,
            n => n.min(MAX_GOROUTINES),
        }
    }

    /// Elements kept of a list whose own bound is `cap`.
    pub fn list(&self, cap: usize) -> usize {
        match self.max_list {
            0 => cap,
            n => n.min(cap),
        }
    }
}
/// How many goroutines to decode between hints that their pages may be released.
const TRIM_EVERY: u64 = 4096;
const G_SCAN: u32 = 0x1000;
const G_RUNNING: u32 = 2;
const G_SYSCALL: u32 = 3;
const G_DEAD: u32 = 6;

/// Version-specific names the caller supplies (from the layout tables or DWARF).
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// `waitReasonStrings` in enum order.
    pub wait_reasons: Vec<String>,
    /// Extra dead-like states to skip, beyond `_Gdead` (e.g. `_Gdeadextra`).
    pub dead_states: Vec<u32>,
    /// Goroutine state names without `_G` (`waiting`, `leaked`), indexed by state.
    pub statuses: Vec<String>,
}

/// One M (OS thread the runtime manages).
#[derive(Debug, Clone, Serialize)]
pub struct MInfo {
    pub addr: u64,
    pub id: i64,
    pub procid: u64,
    pub g0: u64,
    pub gsignal: u64,
    pub curg: u64,
    pub p: u64,
    pub lockedg: u64,
}

/// One P (a scheduler context; GOMAXPROCS of them).
#[derive(Debug, Clone, Serialize)]
pub struct PInfo {
    pub addr: u64,
    pub id: i32,
    /// `_Pidle`, `_Prunning`, ... without the `_P`.
    pub status: String,
    /// The M's id, when an M holds this P.
    pub m: Option<i64>,
    /// Goroutines in the local run queue, plus `runnext`.
    pub runq: u32,
    pub runnext: bool,
}

/// The scheduler's global state (`runtime.sched`).
#[derive(Debug, Clone, Serialize)]
pub struct SchedInfo {
    pub addr: u64,
    pub goidgen: u64,
    /// `nanotime()` of the last network poll; 0 while a thread blocks in the poller.
    pub lastpoll: i64,
    pub mnext: i64,
    pub maxmcount: i32,
    pub npidle: i32,
    pub nmspinning: i32,
}

/// Runtime roots as the .bss scans find them: (slice data, length) of allgs and allp, and
/// the address of sched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScannedRoots {
    pub allgs: Option<(u64, u64)>,
    pub allp: Option<(u64, u64)>,
    pub sched: Option<u64>,
}

const P_STATUS_NAMES: &[&str] = &["idle", "running", "syscall", "gcstop", "dead"];

/// One thread of the process and what the runtime is doing on it.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadInfo {
    pub lwp: u32,
    pub pc: u64,
    pub sp: u64,
    pub m: Option<i64>,
    pub p: Option<i64>,
    /// goid of the M's current goroutine.
    pub g: Option<u64>,
    /// Which stack the thread is executing on.
    pub stack: StackKind,
    pub crashed: bool,
}

pub struct Runtime {
    binary: Arc<Binary>,
    mem: Arc<dyn Memory>,
    bias: u64,
    off: Offsets,
    names: Names,
    threads: Vec<Thread>,
    ms: Vec<MInfo>,
    allgs: (u64, u64),
    allp: Vec<u64>,
    allgs_error: Option<Error>,
    sched: Option<u64>,
    now: std::sync::OnceLock<Option<i64>>,
    /// Type descriptors, for panic values; None when they cannot be located.
    types: Option<types::TypeReader<Arc<dyn Memory>>>,
    /// What listings show at most.
    limits: Limits,
}

impl Runtime {
    /// Reads the runtime's roots: Ms (from `runtime.allm` or the threads' g registers) and
    /// `runtime.allgs` (from the symbol table, else by a validated scan of .bss).
    pub fn new(
        binary: Arc<Binary>,
        mem: Arc<dyn Memory>,
        bias: u64,
        threads: Vec<Thread>,
        off: Offsets,
        names: Names,
    ) -> Result<Runtime> {
        let mut rt = Runtime {
            binary,
            mem,
            bias,
            off,
            names,
            threads,
            ms: Vec::new(),
            allgs: (0, 0),
            allp: Vec::new(),
            allgs_error: None,
            sched: None,
            now: std::sync::OnceLock::new(),
            types: None,
            limits: Limits::default(),
        };
        rt.ms = rt.find_ms();
        // Without the goroutine list, threads, Ms and Ps are still worth showing.
        match rt.find_allgs() {
            Ok(allgs) => rt.allgs = allgs,
            Err(e) => rt.allgs_error = Some(e),
        }
        rt.allp = rt.find_allp();
        rt.sched = rt.find_sched();
        Ok(rt)
    }

    pub fn binary(&self) -> &Binary {
        &self.binary
    }

    pub fn memory(&self) -> &dyn Memory {
        &*self.mem
    }

    pub fn bias(&self) -> u64 {
        self.bias
    }

    pub fn offsets(&self) -> &Offsets {
        &self.off
    }

    pub fn ms(&self) -> &[MInfo] {
        &self.ms
    }

    pub fn raw_threads(&self) -> &[Thread] {
        &self.threads
    }

    /// What listings of goroutines show at most.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    fn symbol(&self, name: &str) -> Option<u64> {
        self.binary
            .image()
            .symbol(name)
            .map(|(a, _)| a.wrapping_add(self.bias))
    }

    pub(crate) fn read_m(&self, addr: u64) -> Option<MInfo> {
        let o = &self.off.m;
        let size = o
            .size
            .max(o.alllink.saturating_add(8))
            .max(o.lockedg.saturating_add(8));
        let buf = self.mem.read_vec(addr, size as usize).ok()?;
        let w = |off: u64| word(&buf, off);
        Some(MInfo {
            addr,
            id: w(o.id)? as i64,
            procid: w(o.procid)?,
            g0: w(o.g0)?,
            gsignal: w(o.gsignal)?,
            curg: w(o.curg)?,
            p: w(o.p)?,
            lockedg: w(o.lockedg)?,
        })
    }

    fn m_alllink(&self, m: u64) -> Option<u64> {
        self.mem.read_ptr(m.wrapping_add(self.off.m.alllink)).ok()
    }

    /// Whether `g` is a g its M knows (its g0, gsignal or curg).
    fn g_is_consistent(&self, g: u64) -> Option<u64> {
        if g == 0 || !g.is_multiple_of(8) {
            return None;
        }
        let m = self.mem.read_ptr(g.wrapping_add(self.off.g.m)).ok()?;
        if m == 0 {
            return None;
        }
        let mi = self.read_m(m)?;
        (mi.g0 == g || mi.gsignal == g || mi.curg == g).then_some(m)
    }

    fn find_ms(&self) -> Vec<MInfo> {
        let mut heads = Vec::new();
        if let Some(sym) = self.symbol("runtime.allm") {
            if let Ok(head) = self.mem.read_ptr(sym) {
                heads.push(head);
            }
        }
        // Each thread's g register (or TLS slot) leads to its M; the M list is linked from
        // newest to oldest, so every thread's M is a starting point.
        for t in &self.threads {
            let regs = &t.registers;
            let mut candidates = vec![regs.g_register()];
            if let Some(tls) = regs.tls_base() {
                if let Ok(g) = self.mem.read_ptr(tls.wrapping_sub(8)) {
                    candidates.push(g);
                }
            }
            for g in candidates {
                if let Some(m) = self.g_is_consistent(g) {
                    heads.push(m);
                    break;
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        let mut ms = Vec::new();
        for head in heads {
            let mut m = head;
            while m != 0 && ms.len() < MAX_MS && seen.insert(m) {
                let Some(info) = self.read_m(m) else { break };
                ms.push(info);
                m = self.m_alllink(m).unwrap_or(0);
            }
        }
        ms.sort_by_key(|m| m.id);
        ms
    }

    /// `runtime.allgs`: (pointer, length).
    fn find_allgs(&self) -> Result<(u64, u64)> {
        let mut symbol_problem = None;
        let mut kind = ErrorKind::Corrupt;
        let mut missing_at = None;
        if let Some(sym) = self.symbol("runtime.allgs") {
            let ptr = self.mem.read_ptr(sym)?;
            let len = self.mem.read_u64(sym.wrapping_add(8))?;
            let first = self.mem.read_ptr(ptr);
            let first_ok = first.as_ref().is_ok_and(|&g| self.plausible_g(g));
            if len <= MAX_GOROUTINES && (len == 0 || first_ok) {
                return Ok((ptr, len));
            }
            // Missing data is not implausible data: say which it is.
            let missing = match first {
                Err(e) => Some((
                    ptr,
                    format!("its data at {ptr:#x} is not in the core ({e})"),
                )),
                Ok(g) if g != 0 && self.mem.read_u64(g.wrapping_add(self.off.g.goid)).is_err() => {
                    Some((
                        g,
                        format!("its first goroutine at {g:#x} is not in the core"),
                    ))
                }
                Ok(_) => None,
            };
            let missing = missing.filter(|_| len <= MAX_GOROUTINES);
            if let Some((at, _)) = missing {
                kind = ErrorKind::Unreadable;
                missing_at = Some(at);
            }
            symbol_problem = Some(match missing.map(|(_, why)| why) {
                Some(why) => format!(
                    "runtime.allgs at {sym:#x} holds {len} goroutines, but {why}"
                ),
                None => format!(
                    "runtime.allgs at {sym:#x} holds an implausible slice (data {ptr:#x}, length {len})"
                ),
            });
        }
        self.scan_allgs().ok_or_else(|| {
            let e = Error::new(
                kind,
                match symbol_problem {
                    Some(p) => format!("cannot read the goroutine list: {p}, and no other slice in .bss holds goroutine 1"),
                    None => "cannot find the goroutine list (runtime.allgs): no symbol, and no slice in .bss holds goroutine 1".to_string(),
                },
            );
            match missing_at {
                Some(at) => e.at(at),
                None => e,
            }
        })
    }

    /// Looks for a `[]*g` slice header in .bss whose first elements include goroutine 1 and
    /// are all plausible goroutines; failing that, one where most of them are (a damaged `g`
    /// among the first ones must not lose every goroutine).
    fn scan_allgs(&self) -> Option<(u64, u64)> {
        let bss = self.bss()?;
        let mut mostly = None;
        let mut i = 0usize;
        while i.wrapping_add(24) <= bss.len() {
            let (ptr, n, cap) = (
                word(&bss, i as u64)?,
                word(&bss, (i as u64).wrapping_add(8))?,
                word(&bss, (i as u64).wrapping_add(16))?,
            );
            i = i.saturating_add(8);
            if ptr == 0 || !ptr.is_multiple_of(8) || n == 0 || n > cap || cap > MAX_GOROUTINES {
                continue;
            }
            // Goroutine 1 (runtime.main) is among the first goroutines made; cgo programs may
            // make an extra M's goroutine before it.
            let has_main = (0..n.min(4)).any(|k| {
                self.mem
                    .read_ptr(ptr.wrapping_add(k.wrapping_mul(8)))
                    .and_then(|g| self.mem.read_u64(g.wrapping_add(self.off.g.goid)))
                    .ok()
                    == Some(1)
            });
            if !has_main {
                continue;
            }
            let plausible = (0..n.min(8))
                .filter(|k| {
                    self.mem
                        .read_ptr(ptr.wrapping_add(k.wrapping_mul(8)))
                        .ok()
                        .is_some_and(|g| self.plausible_g(g))
                })
                .count() as u64;
            if plausible == n.min(8) {
                return Some((ptr, n));
            }
            if mostly.is_none() && plausible.saturating_mul(2) > n.min(8) {
                mostly = Some((ptr, n));
            }
        }
        mostly
    }

    fn plausible_g(&self, g: u64) -> bool {
        if g == 0 || !g.is_multiple_of(8) {
            return false;
        }
        let o = &self.off.g;
        let (Ok(status), Ok(goid), Ok(lo), Ok(hi)) = (
            self.mem.read_u32(g.wrapping_add(o.atomicstatus)),
            self.mem.read_u64(g.wrapping_add(o.goid)),
            self.mem.read_u64(g.wrapping_add(o.stack_lo)),
            self.mem.read_u64(g.wrapping_add(o.stack_hi)),
        ) else {
            return false;
        };
        let status = status & !G_SCAN;
        status < 32
            && goid < (1 << 48)
            && (self.is_dead(status) || (lo < hi && hi.wrapping_sub(lo) <= 1 << 30))
    }

    /// `runtime.allp`: every P, from the symbol or a scan of .bss for a `[]*p` whose
    /// elements carry their own index as id.
    fn find_allp(&self) -> Vec<u64> {
        let from_symbol = self.symbol("runtime.allp").and_then(|sym| {
            let ptr = self.mem.read_ptr(sym).ok()?;
            let n = self.mem.read_u64(sym.wrapping_add(8)).ok()?;
            self.valid_allp(ptr, n).then_some((ptr, n))
        });
        let Some((ptr, n)) = from_symbol.or_else(|| self.scan_allp()) else {
            return Vec::new();
        };
        (0..n)
            .filter_map(|i| self.mem.read_ptr(ptr.wrapping_add(i.wrapping_mul(8))).ok())
            .collect()
    }

    fn valid_allp(&self, ptr: u64, n: u64) -> bool {
        n > 0
            && n <= 1 << 16
            && (0..n).all(|i| {
                let Ok(p) = self.mem.read_ptr(ptr.wrapping_add(i.wrapping_mul(8))) else {
                    return false;
                };
                p != 0
                    && self.mem.read_u32(p.wrapping_add(self.off.p.id)).ok() == Some(i as u32)
                    && self
                        .mem
                        .read_u32(p.wrapping_add(self.off.p.status))
                        .is_ok_and(|s| (s as usize) < P_STATUS_NAMES.len())
            })
    }

    fn scan_allp(&self) -> Option<(u64, u64)> {
        let bss = self.bss()?;
        let mut i = 0usize;
        while i.wrapping_add(24) <= bss.len() {
            let at = i as u64;
            i = i.saturating_add(8);
            let (Some(ptr), Some(n), Some(cap)) = (
                word(&bss, at),
                word(&bss, at.wrapping_add(8)),
                word(&bss, at.wrapping_add(16)),
            ) else {
                continue;
            };
            if ptr == 0 || n == 0 || n > cap || cap > 1 << 16 {
                continue;
            }
            if self.valid_allp(ptr, n) {
                return Some((ptr, n));
            }
        }
        None
    }

    /// What the .bss scans find for allgs and allp (slice data and length) and sched,
    /// ignoring the symbol table: lets tests check the scans against the symbols of
    /// unstripped binaries.
    #[doc(hidden)]
    pub fn discovery_by_scan(&self) -> ScannedRoots {
        ScannedRoots {
            allgs: self.scan_allgs(),
            allp: self.scan_allp(),
            sched: self.scan_sched(),
        }
    }

    /// `runtime.sched`, from the symbol or a scan of .bss for a schedt whose counters agree
    /// with the goroutines, Ms and Ps already found.
    fn find_sched(&self) -> Option<u64> {
        if let Some(sym) = self.symbol("runtime.sched") {
            return Some(sym);
        }
        self.scan_sched()
    }

    fn scan_sched(&self) -> Option<u64> {
        let o = &self.off.sched;
        let bss = self.bss()?;
        let base = self.binary.moduledata()?.bss.wrapping_add(self.bias);
        let span = o.size.max(o.nmspinning.saturating_add(4)) as usize;
        let nps = self.allp.len() as i64;
        let nms = self.ms.len() as i64;
        let unmapped = (self
            .threads
            .iter()
            .filter(|t| !self.ms.iter().any(|m| m.procid == u64::from(t.lwp)))
            .count() as i64)
            .saturating_add(1);
        let most_ms = nms.saturating_add(unmapped);
        let m_ok = |m: u64| m == 0 || self.ms.iter().any(|x| x.addr == m);
        // goidgen hands out ids to Ps in batches of 16, so it lies just above every goid.
        let (gptr, glen) = self.allgs;
        let max_goid = (0..glen.min(MAX_GOROUTINES))
            .filter_map(|i| self.mem.read_ptr(gptr.wrapping_add(i.wrapping_mul(8))).ok())
            .filter_map(|g| self.mem.read_u64(g.wrapping_add(self.off.g.goid)).ok())
            .max()
            .unwrap_or(0);
        let goid_slack = (nps as u64).saturating_add(2).saturating_mul(16);
        let p_ok = |p: u64| p == 0 || self.allp.contains(&p);
        let mut i = 0usize;
        while i.saturating_add(span) <= bss.len() {
            let at = i as u64;
            i = i.saturating_add(8);
            // A field beyond the end of .bss is missing, not wrapped to its start.
            let w = |off: u64| at.checked_add(off).and_then(|a| word(&bss, a));
            let w32 = |off: u64| {
                at.checked_add(off)
                    .and_then(|a| word32(&bss, a))
                    .map(|v| v as i32)
            };
            let (Some(goidgen), Some(mnext), Some(maxm), Some(midle), Some(pidle), Some(npidle)) = (
                w(o.goidgen),
                w(o.mnext).map(|v| v as i64),
                w32(o.maxmcount),
                w(o.midle),
                w(o.pidle),
                w32(o.npidle),
            ) else {
                continue;
            };
            // Ms are counted when made and when freed; the rest are on the M list.
            let (Some(nmidle), Some(nmfreed), Some(nmspinning)) = (
                w32(o.nmidle),
                w(o.nmfreed).map(|v| v as i64),
                w32(o.nmspinning),
            ) else {
                continue;
            };
            // An M being made when the process stopped is counted (and on the M list) before
            // its thread sets its g register, so it may be missing from the Ms found.
            let counted = mnext.checked_sub(nmfreed);
            if nms > 0 && !counted.is_some_and(|c| (nms..=most_ms).contains(&c)) {
                continue;
            }
            if !(0..=most_ms as i32).contains(&nmidle)
                || !(0..=most_ms as i32).contains(&nmspinning)
            {
                continue;
            }
            if goidgen < max_goid
                || goidgen > max_goid.saturating_add(goid_slack)
                || goidgen == 0
                || !(1..=1 << 24).contains(&maxm)
                || mnext < nms
                || mnext > 1 << 24
                || !(0..=nps.max(1) as i32).contains(&npidle)
                || !m_ok(midle)
                || !p_ok(pidle)
            {
                continue;
            }
            return Some(base.wrapping_add(at));
        }
        None
    }

    /// The whole .bss of the executable, read from the target.
    fn bss(&self) -> Option<Vec<u8>> {
        let md = self.binary.moduledata()?;
        let (lo, hi) = (
            md.bss.wrapping_add(self.bias),
            md.ebss.wrapping_add(self.bias),
        );
        let len = usize::try_from(hi.checked_sub(lo)?).ok()?.min(64 << 20);
        self.mem.read_vec(lo, len).ok()
    }

    /// Every P, in id order.
    pub fn ps(&self) -> Vec<PInfo> {
        let o = &self.off.p;
        self.allp
            .iter()
            .filter_map(|&p| {
                let id = self.mem.read_u32(p.wrapping_add(o.id)).ok()? as i32;
                let status = self.mem.read_u32(p.wrapping_add(o.status)).ok()?;
                let m = self.mem.read_ptr(p.wrapping_add(o.m)).ok()?;
                let head = self.mem.read_u32(p.wrapping_add(o.runqhead)).ok()?;
                let tail = self.mem.read_u32(p.wrapping_add(o.runqtail)).ok()?;
                let runnext = self.mem.read_ptr(p.wrapping_add(o.runnext)).ok()? != 0;
                Some(PInfo {
                    addr: p,
                    id,
                    status: P_STATUS_NAMES
                        .get(status as usize)
                        .map_or_else(|| format!("status {status}"), |s| s.to_string()),
                    m: self.m_at(m).map(|m| m.id),
                    runq: tail
                        .wrapping_sub(head)
                        .min(1 << 16)
                        .saturating_add(u32::from(runnext)),
                    runnext,
                })
            })
            .collect()
    }

    /// The process's last `nanotime()` reading that the core preserves (`sched.lastpoll`).
    pub fn now_estimate(&self) -> Option<i64> {
        *self
            .now
            .get_or_init(|| self.sched().map(|s| s.lastpoll).filter(|&t| t > 0))
    }

    /// The scheduler's global counters, when `runtime.sched` was found.
    pub fn sched(&self) -> Option<SchedInfo> {
        let addr = self.sched?;
        let o = &self.off.sched;
        let r64 = |off: u64| self.mem.read_u64(addr.wrapping_add(off)).ok();
        let r32 = |off: u64| {
            self.mem
                .read_u32(addr.wrapping_add(off))
                .ok()
                .map(|v| v as i32)
        };
        Some(SchedInfo {
            addr,
            goidgen: r64(o.goidgen)?,
            lastpoll: r64(o.lastpoll)? as i64,
            mnext: r64(o.mnext)? as i64,
            maxmcount: r32(o.maxmcount)?,
            npidle: r32(o.npidle)?,
            nmspinning: r32(o.nmspinning)?,
        })
    }

    /// Why the goroutine list could not be read, when it could not.
    pub fn allgs_error(&self) -> Option<&str> {
        self.allgs_error.as_ref().map(Error::message)
    }

    /// The record that stands for the goroutine list when it cannot be read.
    pub fn allgs_failure(&self) -> Option<Goroutine> {
        self.allgs_error.as_ref().map(|e| Goroutine::failed(0, e))
    }

    /// The number of goroutine slots (live or dead) in `allgs`.
    /// `runtime.allgs` as read: the slice's data and length.
    pub fn allgs(&self) -> (u64, u64) {
        self.allgs
    }

    pub fn allg_count(&self) -> u64 {
        self.allgs.1
    }

    /// Every goroutine the runtime would print (dead ones skipped), with stacks, within the
    /// built-in caps only (not the listing limits): what analyses read.
    pub fn goroutines(&self, with_stacks: bool) -> Vec<Goroutine> {
        let mut out = Vec::new();
        self.for_each_goroutine(with_stacks, |g| out.push(g));
        out
    }

    /// The goroutines a listing shows: at most `limits().max_goroutines` of them, each
    /// within the frame and list limits; and how many goroutines were left unread.
    pub fn goroutines_within_limits(&self, with_stacks: bool) -> (Vec<Goroutine>, u64) {
        let mut out = Vec::new();
        let limits = self.limits;
        let not_read = self.each_goroutine(with_stacks, &limits, |g| out.push(g));
        (out, not_read)
    }

    /// Decodes goroutines one at a time in `allgs` order, so a caller that streams them out
    /// never holds 100,000 stacks at once. Reads every goroutine, within the built-in caps
    /// only: analyses (the heap graph, stuck goroutines) need all of them.
    pub fn for_each_goroutine(&self, with_stacks: bool, each: impl FnMut(Goroutine)) {
        self.each_goroutine(with_stacks, &Limits::CAPS, each);
    }

    /// Decodes at most `limits.goroutines()` goroutines in `allgs` order, each within
    /// `limits`; returns how many live goroutines were left unread.
    fn each_goroutine(
        &self,
        with_stacks: bool,
        limits: &Limits,
        mut each: impl FnMut(Goroutine),
    ) -> u64 {
        if let Some(g) = self.allgs_failure() {
            each(g);
            return 0;
        }
        let code = Code::new(self.binary.pclntab(), self.bias, self.binary.image().arch);
        let mut sym_cache = FrameCache::default();
        let (ptr, len) = self.allgs;
        let end = len.min(MAX_GOROUTINES);
        let wanted = limits.goroutines();
        let mut read = 0u64;
        for i in 0..end {
            if read >= wanted {
                return self.live_goroutines(i..end);
            }
            let gp = match self.mem.read_ptr(ptr.wrapping_add(i.wrapping_mul(8))) {
                Ok(g) => g,
                Err(e) => {
                    // The rest of the array is as unreadable as this slot: say so once.
                    each(Goroutine::failed(
                        0,
                        &e.context(&format!("goroutine list entries {i}..{len} are unreadable")),
                    ));
                    break;
                }
            };
            if gp == 0 {
                continue;
            }
            if let Some(g) = self.goroutine_at(&code, gp, with_stacks, &mut sym_cache, limits) {
                read = read.saturating_add(1);
                each(g);
            }
            if i % TRIM_EVERY == TRIM_EVERY - 1 {
                self.mem.trim();
            }
        }
        0
    }

    /// How many goroutines the `allgs` slots `range` hold that are not dead (an unreadable
    /// one counts: a listing would show it with its error). Reads only each one's status.
    pub fn live_goroutines(&self, range: std::ops::Range<u64>) -> u64 {
        let (ptr, _) = self.allgs;
        let mut live = 0u64;
        for i in range {
            let Ok(gp) = self.mem.read_ptr(ptr.wrapping_add(i.wrapping_mul(8))) else {
                break;
            };
            if gp == 0 {
                continue;
            }
            let dead = self
                .mem
                .read_u32(gp.wrapping_add(self.off.g.atomicstatus))
                .is_ok_and(|s| self.is_dead(s & !G_SCAN));
            live = live.saturating_add(u64::from(!dead));
            if i % TRIM_EVERY == TRIM_EVERY - 1 {
                self.mem.trim();
            }
        }
        live
    }

    /// Decodes the goroutine at `gp` within `limits`; None for a dead goroutine.
    pub fn goroutine_at(
        &self,
        code: &Code<'_>,
        gp: u64,
        with_stacks: bool,
        cache: &mut FrameCache,
        limits: &Limits,
    ) -> Option<Goroutine> {
        goroutine::decode(self, code, gp, with_stacks, cache, limits)
    }

    /// The goroutine with this id, within the frame and list limits (whatever
    /// `max_goroutines` says: it is looked for among all of them).
    pub fn goroutine(&self, goid: u64) -> Option<Goroutine> {
        self.goroutine_within(goid, &self.limits)
    }

    /// The goroutine with this id, within the built-in caps only.
    pub(crate) fn goroutine_whole(&self, goid: u64) -> Option<Goroutine> {
        self.goroutine_within(goid, &Limits::CAPS)
    }

    fn goroutine_within(&self, goid: u64, limits: &Limits) -> Option<Goroutine> {
        let code = Code::new(self.binary.pclntab(), self.bias, self.binary.image().arch);
        let mut cache = FrameCache::default();
        let (ptr, len) = self.allgs;
        for i in 0..len.min(MAX_GOROUTINES) {
            let gp = self
                .mem
                .read_ptr(ptr.wrapping_add(i.wrapping_mul(8)))
                .ok()?;
            if gp != 0 && self.mem.read_u64(gp.wrapping_add(self.off.g.goid)).ok() == Some(goid) {
                return self.goroutine_at(&code, gp, true, &mut cache, limits);
            }
        }
        None
    }

    /// The state's name without `_G`, as the release's runtime names it; "???" (what the
    /// runtime prints) for a value it does not define.
    pub fn status_name(&self, code: u32) -> &str {
        self.names
            .statuses
            .get(code as usize)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("???")
    }

    /// Gives the runtime the binary's type descriptors, which panic values need.
    /// The type descriptor reader, when the descriptors were found.
    pub fn types(&self) -> Option<&types::TypeReader<Arc<dyn Memory>>> {
        self.types.as_ref()
    }

    pub fn set_types(&mut self, types: Option<types::TypeReader<Arc<dyn Memory>>>) {
        self.types = types;
    }

    /// A panic's value as (type, the text Go prints after `panic: `, whether that text is
    /// exact), from its interface's type and data words.
    pub(crate) fn panic_value(&self, typ: u64, data: u64) -> Result<(String, String, bool)> {
        let Some(reader) = &self.types else {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "the binary's type descriptors cannot be located",
            ));
        };
        panicval::decode(reader, typ, data).map(|v| (v.type_name, v.message, v.exact))
    }

    pub fn wait_reason(&self, code: u8) -> Option<&str> {
        self.names
            .wait_reasons
            .get(usize::from(code))
            .map(|s| s.as_str())
    }

    fn is_dead(&self, status: u32) -> bool {
        status == G_DEAD || self.names.dead_states.contains(&status)
    }

    /// The M whose address is `m`.
    pub fn m_at(&self, m: u64) -> Option<&MInfo> {
        self.ms.iter().find(|x| x.addr == m)
    }

    /// The thread running M `m`.
    pub fn thread_of_m(&self, m: &MInfo) -> Option<&Thread> {
        self.threads
            .iter()
            .find(|t| u64::from(t.lwp) == m.procid && m.procid != 0)
    }

    /// Every thread with its M, P, goroutine and stack.
    pub fn threads(&self) -> Vec<ThreadInfo> {
        self.threads
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let m = self.ms.iter().find(|m| m.procid == u64::from(t.lwp));
                let sp = t.registers.sp();
                let (stack, g) = match m {
                    Some(m) => {
                        let owner = [m.curg, m.g0, m.gsignal]
                            .into_iter()
                            .filter(|&g| g != 0)
                            .find_map(|g| self.stack_of(g).filter(|s| sp >= s.lo && sp < s.hi));
                        let goid = (m.curg != 0)
                            .then(|| self.mem.read_u64(m.curg.wrapping_add(self.off.g.goid)).ok())
                            .flatten();
                        (owner.map_or(StackKind::Unknown, |s| s.kind), goid)
                    }
                    None => (StackKind::Unknown, None),
                };
                ThreadInfo {
                    lwp: t.lwp,
                    pc: t.registers.pc(),
                    sp,
                    m: m.map(|m| m.id),
                    p: m.filter(|m| m.p != 0)
                        .and_then(|m| self.mem.read_u32(m.p.wrapping_add(self.off.p.id)).ok())
                        .map(|p| i64::from(p as i32)),
                    g,
                    stack,
                    crashed: i == 0 && t.signal != 0,
                }
            })
            .collect()
    }
}

impl Stacks for Runtime {
    fn stack_of(&self, g: u64) -> Option<GStack> {
        let o = &self.off.g;
        let lo = self.mem.read_u64(g.wrapping_add(o.stack_lo)).ok()?;
        let hi = self.mem.read_u64(g.wrapping_add(o.stack_hi)).ok()?;
        let m = self.mem.read_ptr(g.wrapping_add(o.m)).ok().unwrap_or(0);
        let kind = match self.m_at(m) {
            Some(mi) if mi.g0 == g => StackKind::G0,
            Some(mi) if mi.gsignal == g => StackKind::Gsignal,
            _ => StackKind::Goroutine,
        };
        Some(GStack { g, lo, hi, kind })
    }

    fn curg_switch(&self, g0: u64) -> Option<(u64, u64, u64, u64)> {
        let m = self.mem.read_ptr(g0.wrapping_add(self.off.g.m)).ok()?;
        let mi = self.m_at(m)?;
        let curg = mi.curg;
        if curg == 0 || self.mem.read_ptr(curg.wrapping_add(self.off.g.m)).ok()? != m {
            return None;
        }
        let o = &self.off.g;
        Some((
            curg,
            self.mem.read_u64(curg.wrapping_add(o.sched_pc)).ok()?,
            self.mem.read_u64(curg.wrapping_add(o.sched_sp)).ok()?,
            self.mem.read_u64(curg.wrapping_add(o.sched_lr)).ok()?,
        ))
    }

    fn owner_of_sp(&self, g: u64, sp: u64) -> Option<GStack> {
        let m = self
            .mem
            .read_ptr(g.wrapping_add(self.off.g.m))
            .ok()
            .unwrap_or(0);
        let mut candidates = vec![g];
        if let Some(mi) = self.m_at(m) {
            candidates.extend([mi.curg, mi.g0, mi.gsignal]);
        }
        candidates
            .into_iter()
            .filter(|&c| c != 0)
            .filter_map(|c| self.stack_of(c))
            .find(|s| sp >= s.lo && sp < s.hi)
            .or_else(|| {
                // g0 stacks of threads the runtime did not create have estimated bounds;
                // a sp just outside them still belongs to that g0.
                self.stack_of(g).filter(|s| s.kind == StackKind::G0)
            })
    }
}

/// Little-endian word at `off` of a buffer read from the target.
fn word(buf: &[u8], off: u64) -> Option<u64> {
    let off = usize::try_from(off).ok()?;
    let b = buf.get(off..off.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

fn word32(buf: &[u8], off: u64) -> Option<u32> {
    let off = usize::try_from(off).ok()?;
    let b = buf.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

#[cfg(test)]
mod limits_tests {
    use super::{Limits, DEFAULT_MAX_FRAMES, MAX_FRAMES_CAP, MAX_GOROUTINES};

    #[test]
    fn zero_is_the_built_in_cap_and_no_limit_exceeds_it() {
        let defaults = Limits::default();
        assert_eq!(defaults.frames(), DEFAULT_MAX_FRAMES);
        assert_eq!(defaults.goroutines(), MAX_GOROUTINES);
        assert_eq!(defaults.list(10_000), 10_000);
        assert_eq!(Limits::CAPS.frames(), MAX_FRAMES_CAP);
        let huge = Limits {
            max_frames: usize::MAX,
            max_goroutines: u64::MAX,
            max_list: usize::MAX,
        };
        assert_eq!(huge.frames(), MAX_FRAMES_CAP);
        assert_eq!(huge.goroutines(), MAX_GOROUTINES);
        assert_eq!(huge.list(1_000), 1_000);
        let small = Limits {
            max_frames: 50,
            max_goroutines: 5,
            max_list: 2,
        };
        assert_eq!(
            (small.frames(), small.goroutines(), small.list(1_000)),
            (50, 5, 2)
        );
    }
}
