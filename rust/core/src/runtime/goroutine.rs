//! One goroutine as the runtime's traceback describes it: id, state, wait reason, creator,
//! and its stack, symbolized with inlined calls expanded.

use std::sync::Arc;

use serde::Serialize;

use super::panics::{self, Defer, OpenCoded, Panic};
use super::unwind::{self, Code, PhysFrame, Special, Stacks, Start};
use super::{word, word32, Limits, Runtime, G_RUNNING, G_SCAN, G_SYSCALL, MAX_FRAMES_CAP};
use crate::error::{Error, ErrorKind};
use crate::fasthash::FastMap;
use crate::target::MemoryExt;

/// Function, file, line and offset in the function of a `go` statement.
type Creator = (Arc<str>, Arc<str>, i32, Option<u64>);

/// What goroutines share, symbolized once: the frames of one physical frame by
/// symbolization pc (inlined calls first, without pc and sp), and creators and start
/// functions by pc. Goroutines parked at the same place then share their strings.
#[derive(Default)]
pub struct FrameCache {
    frames: FastMap<u64, Vec<Frame>>,
    /// Function, file, line and offset in the function of a `go` statement's pc.
    creators: FastMap<u64, Option<Creator>>,
    starts: FastMap<u64, Option<SourceRef>>,
    /// Open-coded defer info of the function at a pc, by pc.
    open_coded: FastMap<u64, Option<OpenCoded>>,
}

/// A source position: function, file and line.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SourceRef {
    pub function: Arc<str>,
    pub file: Arc<str>,
    pub line: i32,
}

/// `created by F in goroutine N`.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedBy {
    pub function: Arc<str>,
    pub file: Arc<str>,
    pub line: i32,
    pub goid: Option<u64>,
    pub pc: u64,
    /// How far `pc` lies into the function, as `+0x..` in tracebacks; absent at its entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// One frame as the traceback prints it. Inlined frames have no pc or sp of their own.
/// Names are shared: 100,000 goroutines parked at the same place share one string.
#[derive(Debug, Clone, Serialize)]
pub struct Frame {
    pub function: Arc<str>,
    pub file: Arc<str>,
    pub line: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pc: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fp: Option<u64>,
    /// Offset of pc from the function entry, as `+0x..` in tracebacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    pub inlined: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Goroutine {
    pub id: u64,
    pub gp: u64,
    pub status: String,
    pub status_code: u32,
    pub wait_reason: Option<String>,
    pub wait_minutes: Option<i64>,
    /// The M's id, when the goroutine has one.
    pub m: Option<i64>,
    pub mp: Option<u64>,
    pub locked_to_thread: bool,
    pub created_by: Option<CreatedBy>,
    pub start: Option<SourceRef>,
    pub stack_lo: u64,
    pub stack_hi: u64,
    pub labels: std::collections::BTreeMap<String, String>,
    pub frames: Vec<Frame>,
    /// Frames of the thread's system stacks (g0, gsignal) above a running goroutine.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system_frames: Vec<Frame>,
    /// Frames past `frames` that the frame limit left out (absent when none were).
    #[serde(skip_serializing_if = "is_zero")]
    pub more_frames: usize,
    /// Deferred calls still to run, in the order they would run.
    pub defers: Vec<Defer>,
    /// Deferred calls past `defers` that the list limit left out.
    #[serde(skip_serializing_if = "is_zero")]
    pub more_defers: usize,
    /// Panics in flight, innermost first.
    pub panics: Vec<Panic>,
    /// Older panics past `panics` that the list limit left out.
    #[serde(skip_serializing_if = "is_zero")]
    pub more_panics: usize,
    pub error: Option<String>,
    /// What kind of problem `error` is (`unreadable`, `corrupt`, …), and the target
    /// address that failed when there is one.
    pub error_kind: Option<&'static str>,
    pub error_addr: Option<u64>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Goroutine {
    /// A record of what could not be read at `gp` (0: the goroutine list itself).
    pub fn failed(gp: u64, error: &Error) -> Goroutine {
        let mut g = Goroutine::unreadable(gp, error.to_string());
        g.error_kind = Some(error.kind().name());
        g.error_addr = error.addr();
        g
    }

    /// Records that `error` cut this goroutine's reading short, unless an earlier error did.
    pub fn fail(&mut self, error: &Error) {
        if self.error.is_none() {
            self.error = Some(error.to_string());
            self.error_kind = Some(error.kind().name());
            self.error_addr = error.addr();
        }
    }

    pub fn unreadable(gp: u64, error: String) -> Goroutine {
        Goroutine {
            id: 0,
            gp,
            status: "???".into(),
            status_code: u32::MAX,
            wait_reason: None,
            wait_minutes: None,
            m: None,
            mp: None,
            locked_to_thread: false,
            created_by: None,
            start: None,
            stack_lo: 0,
            stack_hi: 0,
            labels: Default::default(),
            frames: Vec::new(),
            system_frames: Vec::new(),
            more_frames: 0,
            defers: Vec::new(),
            more_defers: 0,
            panics: Vec::new(),
            more_panics: 0,
            error: Some(error),
            error_kind: None,
            error_addr: None,
        }
    }
}

pub(super) fn decode(
    rt: &Runtime,
    code: &Code<'_>,
    gp: u64,
    with_stacks: bool,
    cache: &mut FrameCache,
    limits: &Limits,
) -> Option<Goroutine> {
    let o = &rt.off.g;
    let size = o
        .size
        .max(o.waiting.saturating_add(8))
        .max(o.gopc.saturating_add(8))
        .max(o.parent_goid.unwrap_or(0).saturating_add(8));
    let buf = match rt.mem.read_vec(gp, size as usize) {
        Ok(b) => b,
        Err(e) => return Some(Goroutine::failed(gp, &e.context(&format!("g {gp:#x}")))),
    };
    let w = |off: u64| word(&buf, off).unwrap_or(0);
    let raw_status = word32(&buf, o.atomicstatus).unwrap_or(u32::MAX);
    let status = raw_status & !G_SCAN;
    if rt.is_dead(status) {
        return None;
    }
    let id = w(o.goid);
    let reason_code = buf.get(o.waitreason as usize).copied().unwrap_or(0);
    let wait_reason = if (status == 4 || status == 10) && reason_code != 0 {
        Some(
            rt.wait_reason(reason_code)
                .map(str::to_string)
                .unwrap_or_else(|| format!("wait reason {reason_code}")),
        )
    } else {
        None
    };
    let mp = w(o.m);
    // The M's id: from the Ms already found, else read where g.m points.
    let m_id = (mp != 0)
        .then(|| {
            rt.m_at(mp)
                .map(|m| m.id)
                .or_else(|| rt.read_m(mp).map(|m| m.id))
        })
        .flatten();
    // Minutes waiting, as the runtime computes them, against the last time the scheduler
    // read the clock (sched.lastpoll): a lower bound, and only when that time is known.
    let waitsince = w(o.waitsince) as i64;
    let wait_minutes = match rt.now_estimate() {
        Some(now) if (status == 4 || status == G_SYSCALL) && waitsince > 0 && now >= waitsince => {
            Some(now.saturating_sub(waitsince) / 60_000_000_000)
        }
        _ => None,
    };
    let mut g = Goroutine {
        id,
        gp,
        status: rt.status_name(status).to_string(),
        status_code: status,
        wait_reason,
        wait_minutes,
        m: m_id,
        mp: (mp != 0).then_some(mp),
        locked_to_thread: w(o.lockedm) != 0,
        stack_lo: w(o.stack_lo),
        stack_hi: w(o.stack_hi),
        // Every list empty until read below.
        error: None,
        error_kind: None,
        ..Goroutine::unreadable(gp, String::new())
    };
    let gopc = w(o.gopc);
    let creator = cache.creators.entry(gopc).or_insert_with(|| {
        let f = code.find(gopc)?;
        let entry = code.entry(&f);
        let tracepc = if gopc > entry {
            gopc.wrapping_sub(1)
        } else {
            gopc
        };
        let loc = code.tab.pc_line(tracepc.wrapping_sub(code.bias));
        Some((
            f.name().into(),
            loc.map_or("", |l| l.file).into(),
            loc.map_or(-1, |l| l.line),
            (gopc > entry).then(|| gopc.wrapping_sub(entry)),
        ))
    });
    if let Some((function, file, line, offset)) = creator {
        g.created_by = Some(CreatedBy {
            function: Arc::clone(function),
            file: Arc::clone(file),
            line: *line,
            goid: o.parent_goid.map(&w).filter(|&p| p != 0),
            pc: gopc,
            offset: *offset,
        });
    }
    if mp != 0 && m_id.is_none() {
        g.fail(
            &Error::new(
                ErrorKind::Unreadable,
                format!("its M at {mp:#x} is unreadable"),
            )
            .at(mp),
        );
    }
    if id == 1 {
        // The runtime prints no creator for the main goroutine (rt0_go made it).
        g.created_by = None;
    }
    let labels = w(o.labels);
    if labels != 0 {
        match read_labels(rt, labels) {
            Ok(l) => g.labels = l,
            Err(e) => g.fail(&e.context("pprof labels")),
        }
    }
    let startpc = w(o.startpc);
    g.start = cache
        .starts
        .entry(startpc)
        .or_insert_with(|| {
            let f = code.find(startpc)?;
            Some(SourceRef {
                function: f.name().into(),
                file: f.entry_file().unwrap_or_default().into(),
                line: f.start_line(),
            })
        })
        .clone();
    if !with_stacks {
        return Some(g);
    }

    let syscallsp = w(o.syscallsp);
    let walk = if status == G_RUNNING && syscallsp == 0 {
        running_walk(rt, code, &mut g)
    } else {
        let start = if syscallsp != 0 {
            Start {
                pc: w(o.syscallpc),
                sp: syscallsp,
                lr: 0,
                g: gp,
                trap: false,
                syscall: status == G_SYSCALL,
            }
        } else {
            Start {
                pc: w(o.sched_pc),
                sp: w(o.sched_sp),
                lr: w(o.sched_lr),
                g: gp,
                trap: false,
                syscall: false,
            }
        };
        unwind::walk(code, rt.memory(), rt, start, MAX_FRAMES_CAP)
    };
    if walk.error.is_some() {
        g.error = walk.error.clone();
        g.error_kind = walk.error_kind.map(ErrorKind::name);
        g.error_addr = walk.error_addr;
    }
    let own = || walk.frames.iter().filter(|f| f.g == gp);
    // A fatal panic or throw is printed from the caller of fatalpanic/fatalthrow.
    let skip = own()
        .take(4)
        .position(|f| {
            code.find(f.pc)
                .is_some_and(|func| code.special(&func) == Some(Special::CrashOrigin))
        })
        .map_or(0, |i| i.saturating_add(1));
    // The whole stack is walked (deferred calls need every frame); the frame limit only
    // decides how many are symbolized and shown, and the rest are counted.
    let shown = limits.frames();
    g.frames
        .reserve(walk.frames.len().min(shown).saturating_mul(2));
    for f in own().skip(skip) {
        if g.frames.len() < shown {
            symbolize(code, f, cache, &mut g.frames);
        } else {
            // As `symbolize` would: one `?` frame where no function holds the pc.
            let n = match code.find(f.pc) {
                Some(func) => frames_at(code, code.entry(&func), f, cache).len(),
                None => 1,
            };
            g.more_frames = g.more_frames.saturating_add(n);
        }
    }
    if g.frames.len() > shown {
        g.more_frames = g
            .more_frames
            .saturating_add(g.frames.len().saturating_sub(shown));
        g.frames.truncate(shown);
    }
    for f in walk.frames.iter().filter(|f| f.g != gp) {
        symbolize(code, f, cache, &mut g.system_frames);
    }
    let (first_defer, first_panic) = (w(o.defer), w(o.panic));
    let own: Vec<&PhysFrame> = own().collect();
    let open_coded = &mut cache.open_coded;
    let (defers, error) = panics::defers(rt, code, first_defer, &own, &mut |f| {
        open_coded
            .entry(f.pc)
            .or_insert_with(|| code.find(f.pc).and_then(|func| OpenCoded::of(rt, &func)))
            .clone()
    });
    g.defers = defers;
    let keep = limits.list(panics::MAX_DEFERS);
    if g.defers.len() > keep {
        g.more_defers = g.defers.len().saturating_sub(keep);
        g.defers.truncate(keep);
    }
    if let Some(e) = error {
        g.fail(&e);
    }
    if first_panic != 0 {
        let keep = limits.list(panics::MAX_PANICS);
        let (list, more, error) = panics::panics(rt, first_panic, keep, &|typ, data| {
            rt.panic_value(typ, data)
        });
        g.panics = list;
        g.more_panics = more;
        if let Some(e) = error {
            g.fail(&e);
        }
    }
    Some(g)
}

/// A running goroutine starts from its thread's registers: walk the whole thread (system
/// stacks included) and keep what lies on the goroutine's stack.
fn running_walk(rt: &Runtime, code: &Code<'_>, g: &mut Goroutine) -> unwind::Walk {
    let Some(m) = g.mp.and_then(|mp| rt.m_at(mp)) else {
        let mp = g.mp.unwrap_or(0);
        return unwind::Walk::failed(
            Error::new(ErrorKind::Unreadable, "running, but its M is unknown").at(mp),
        );
    };
    let Some(thread) = rt.thread_of_m(m) else {
        return unwind::Walk::failed(
            Error::new(
                ErrorKind::Unreadable,
                format!(
                    "running on M {} (thread {}), which has no registers in this target",
                    m.id, m.procid
                ),
            )
            .at(m.addr),
        );
    };
    let regs = &thread.registers;
    let sp = regs.sp();
    let on = rt.owner_of_sp(g.gp, sp).map_or(g.gp, |s| s.g);
    unwind::walk(
        code,
        rt.memory(),
        rt,
        Start {
            pc: regs.pc(),
            sp,
            lr: regs.lr().unwrap_or(0),
            g: on,
            trap: true,
            syscall: false,
        },
        MAX_FRAMES_CAP,
    )
}

/// The frames one physical frame prints: inlined calls innermost first, then the physical
/// function itself with its pc and sp.
fn symbolize(code: &Code<'_>, f: &PhysFrame, cache: &mut FrameCache, out: &mut Vec<Frame>) {
    let Some(func) = code.find(f.pc) else {
        out.push(Frame {
            function: "?".into(),
            file: "".into(),
            line: -1,
            pc: Some(f.pc),
            sp: Some(f.sp),
            fp: Some(f.fp),
            offset: None,
            inlined: false,
        });
        return;
    };
    let entry = code.entry(&func);
    out.extend_from_slice(frames_at(code, entry, f, cache));
    if let Some(last) = out.last_mut() {
        last.pc = Some(f.pc);
        last.sp = Some(f.sp);
        last.fp = Some(f.fp);
        last.offset = (f.pc > entry).then(|| f.pc.wrapping_sub(entry));
    }
}

/// The frames one physical frame in the function at `entry` prints (inlined calls first),
/// without its pc and sp.
fn frames_at<'c>(
    code: &Code<'_>,
    entry: u64,
    f: &PhysFrame,
    cache: &'c mut FrameCache,
) -> &'c [Frame] {
    let sym = f.sym_pc(entry);
    cache.frames.entry(sym).or_insert_with(|| {
        let locs = code.tab.lookup(sym.wrapping_sub(code.bias));
        let n = locs.len();
        locs.into_iter()
            .enumerate()
            .map(|(i, l)| Frame {
                function: l.function.into(),
                file: l.file.into(),
                line: l.line,
                pc: None,
                sp: None,
                fp: None,
                offset: None,
                inlined: i.saturating_add(1) < n,
            })
            .collect()
    })
}

/// Bounds on label sets: real ones hold a handful of pairs.
const MAX_LABELS: u64 = 4096;

/// Decodes `g.labels`: from Go 1.24 a `labelMap` holding a sorted `[]label` of string
/// pairs; before that a `map[string]string`.
fn read_labels(
    rt: &Runtime,
    ptr: u64,
) -> crate::error::Result<std::collections::BTreeMap<String, String>> {
    let mem = rt.memory();
    let mut out = std::collections::BTreeMap::new();
    let slice_form = rt.binary().go_version().is_none_or(|v| v.at_least(1, 24));
    if slice_form {
        let list = mem.read_ptr(ptr)?;
        let len = mem.read_u64(ptr.wrapping_add(8))?.min(MAX_LABELS);
        for i in 0..len {
            let at = list.wrapping_add(i.wrapping_mul(32));
            out.insert(
                mem.read_go_string(at)?,
                mem.read_go_string(at.wrapping_add(16))?,
            );
        }
        return Ok(out);
    }
    // g.labels points at a labelMap, which is a map: a pointer to the hmap.
    let ptr = mem.read_ptr(ptr)?;
    if ptr == 0 {
        return Ok(out);
    }
    // hmap: count int, flags u8, B u8, noverflow u16, hash0 u32, buckets, oldbuckets, ...
    let b = mem.read_u8(ptr.wrapping_add(9))?;
    let buckets = mem.read_ptr(ptr.wrapping_add(16))?;
    let oldbuckets = mem.read_ptr(ptr.wrapping_add(24))?;
    if b > 16 {
        return Err(crate::error::Error::corrupt(format!(
            "label map with 2^{b} buckets"
        )));
    }
    // A map[string]string bucket: tophash [8]u8, keys [8]string, elems [8]string, overflow.
    const BUCKET: u64 = 8 + 8 * 16 + 8 * 16 + 8;
    const MIN_TOP_HASH: u8 = 5;
    let mut visited = 0u64;
    for (base, count) in [
        (buckets, 1u64 << b),
        (oldbuckets, 1u64 << b.saturating_sub(1)),
    ] {
        if base == 0 {
            continue;
        }
        for i in 0..count {
            let mut bucket = base.wrapping_add(i.wrapping_mul(BUCKET));
            while bucket != 0 && visited < MAX_LABELS {
                visited = visited.saturating_add(1);
                let tophash = mem.read_vec(bucket, 8)?;
                for (slot, &h) in tophash.iter().enumerate() {
                    if h >= MIN_TOP_HASH {
                        let k = bucket
                            .wrapping_add(8)
                            .wrapping_add((slot as u64).wrapping_mul(16));
                        // The elems follow the 8 keys of 16 bytes.
                        let v = k.wrapping_add(128);
                        out.insert(mem.read_go_string(k)?, mem.read_go_string(v)?);
                    }
                }
                bucket = mem.read_ptr(bucket.wrapping_add(BUCKET - 8))?;
            }
        }
    }
    Ok(out)
}

/// What the runtime prints between the brackets of a goroutine's header: its wait reason
/// (or status), the minutes it has waited when one or more, and whether it is locked to its
/// thread.
pub fn state_text(g: &Goroutine) -> String {
    let mut s = match g.wait_reason.as_deref() {
        Some(r) if !r.is_empty() => r.to_string(),
        _ if !g.status.is_empty() => g.status.clone(),
        _ => "???".to_string(),
    };
    if let Some(m) = g.wait_minutes.filter(|&m| m >= 1) {
        s.push_str(&format!(", {m} minutes"));
    }
    if g.locked_to_thread {
        s.push_str(", locked to thread");
    }
    s
}
