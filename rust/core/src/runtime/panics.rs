//! A goroutine's pending deferred calls and its panics in flight.
//!
//! Deferred calls live in two places: the `g._defer` list (records made by `deferproc` on the
//! heap or the stack, and from go1.23 the `rangefunc` records whose calls hang off `head`),
//! and, for functions the compiler open-coded, in the frame itself: a `deferBits` byte and
//! one closure slot per `defer` statement, located by the function's
//! `FUNCDATA_OpenCodedDeferInfo`. Panics are the `g._panic` list, innermost first.

use std::collections::HashSet;

use serde::Serialize;

use super::unwind::{Code, PhysFrame};
use super::Runtime;
use crate::binary::pclntab::FUNCDATA_OPEN_CODED_DEFER_INFO;
use crate::bytes::read_uvarint;
use crate::error::Error;
use crate::target::MemoryExt;

/// Bounds on the lists, so a corrupt or cyclic list ends with an error instead of a hang.
pub(super) const MAX_DEFERS: usize = 10_000;
pub(super) const MAX_PANICS: usize = 1_000;
const PTR: u64 = 8;

/// One deferred call still to run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Defer {
    /// The deferred function, as the runtime names it (a `defer f(x)` with arguments calls
    /// a wrapper closure of the deferring function).
    pub function: String,
    /// The `defer` statement, where it can be known (records made by `deferproc` keep the
    /// pc after the call); open-coded defers record no pc.
    pub file: Option<String>,
    pub line: Option<i32>,
    /// `open-coded`, `heap`, `stack` or `rangefunc`.
    pub kind: &'static str,
    /// The function whose frame the call belongs to, and that frame's sp.
    pub frame: Option<String>,
    pub frame_sp: Option<u64>,
    /// The deferred function's code address.
    pub pc: u64,
    /// The funcval (closure) the call runs: what it captured is in the words after it.
    #[serde(skip)]
    pub closure: u64,
}

/// One panic of the `_panic` list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Panic {
    /// The text the runtime prints after `panic: ` for this value.
    pub message: String,
    /// The value's type as `%T` prints it.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Whether `message` is exactly what Go prints (false when the value's `Error` or
    /// `String` method would have to run to know it).
    pub exact: bool,
    pub recovered: bool,
    pub aborted: bool,
    pub goexit: bool,
    pub repanicked: bool,
    /// Why the value could not be decoded, if it could not; its kind, and the target
    /// address that failed when it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_addr: Option<u64>,
}

/// Where a function keeps its open-coded defers, relative to the frame's `varp`.
#[derive(Debug, Clone)]
pub(super) enum OpenCoded {
    /// go1.22 and later: `deferBits` and a contiguous array of closure slots.
    Slots { bits: u64, slots: u64 },
    /// go1.21: `deferBits` and one closure offset per `defer` statement, bit i first.
    Offsets { bits: u64, closures: Vec<u64> },
}

impl OpenCoded {
    /// Parses `FUNCDATA_OpenCodedDeferInfo` of the function `f`, if it has one.
    pub(super) fn of(rt: &Runtime, f: &crate::binary::pclntab::Func<'_>) -> Option<OpenCoded> {
        let fd = f.funcdata(FUNCDATA_OPEN_CODED_DEFER_INFO)?;
        let mut pos = 0;
        let bits = read_uvarint(fd, &mut pos)?;
        if rt.binary.go_version().is_none_or(|v| v.at_least(1, 22)) {
            let slots = read_uvarint(fd, &mut pos)?;
            return Some(OpenCoded::Slots { bits, slots });
        }
        let n = read_uvarint(fd, &mut pos)?.min(8);
        let mut closures = vec![0; n as usize];
        // Offsets are listed from the last defer statement to the first.
        for i in (0..n as usize).rev() {
            let off = read_uvarint(fd, &mut pos)?;
            if let Some(slot) = closures.get_mut(i) {
                *slot = off;
            }
        }
        Some(OpenCoded::Offsets { bits, closures })
    }
}

/// The frame's `varp` as the runtime's traceback computes it on amd64: below the return
/// address, and below the saved frame pointer when the frame has locals.
fn varp(f: &PhysFrame) -> u64 {
    let mut varp = f.fp.wrapping_sub(PTR);
    if varp > f.sp {
        varp = varp.wrapping_sub(PTR);
    }
    varp
}

/// The function a `func()` value calls: the first word of its funcval.
fn closure_target(rt: &Runtime, code: &Code<'_>, funcval: u64) -> (String, u64) {
    let Ok(pc) = rt.mem.read_ptr(funcval) else {
        return (format!("? (unreadable func value {funcval:#x})"), 0);
    };
    match code.find(pc) {
        Some(f) => (f.name().to_string(), pc),
        None => (format!("? (pc {pc:#x})"), pc),
    }
}

fn frame_name(code: &Code<'_>, f: &PhysFrame) -> Option<String> {
    code.find(f.pc).map(|func| func.name().to_string())
}

/// The pending deferred calls of the goroutine whose `g._defer` is `first` and whose
/// physical frames (innermost first) are `frames`, in the order they would run. Errors
/// (a cyclic or unreadable list) end the list and are returned beside what was read.
pub(super) fn defers(
    rt: &Runtime,
    code: &Code<'_>,
    first: u64,
    frames: &[&PhysFrame],
    open_coded: &mut dyn FnMut(&PhysFrame) -> Option<OpenCoded>,
) -> (Vec<Defer>, Option<Error>) {
    let mut records = Vec::new();
    let error = read_records(rt, code, first, &mut HashSet::new(), 0, &mut records).err();
    let mut out = Vec::new();
    let mut used = vec![false; records.len()];
    for f in frames {
        if let Some(info) = open_coded(f) {
            open_coded_calls(rt, code, f, &info, &mut out);
        }
        for (i, (sp, d)) in records.iter().enumerate() {
            if *sp == f.sp {
                if let Some(u) = used.get_mut(i) {
                    *u = true;
                }
                let mut d = d.clone();
                d.frame = frame_name(code, f);
                d.frame_sp = Some(f.sp);
                out.push(d);
            }
        }
    }
    // Records of no frame on the stack (a corrupt sp, or frames the walk did not reach).
    for ((_, d), used) in records.into_iter().zip(used) {
        if !used {
            out.push(d);
        }
    }
    (out, error)
}

/// How deep rangefunc records may nest (a loop body's defers inside a loop body's ...).
const MAX_RANGEFUNC_DEPTH: usize = 64;

/// The `_defer` list in order, each record with its frame's sp; rangefunc records expand
/// to the calls on their `head` list, at `depth` below the goroutine's list. `seen` holds
/// every record read so far, on all the lists: a `head` leading back to a record already
/// read is a cycle too.
fn read_records(
    rt: &Runtime,
    code: &Code<'_>,
    first: u64,
    seen: &mut HashSet<u64>,
    depth: usize,
    out: &mut Vec<(u64, Defer)>,
) -> Result<(), Error> {
    let o = &rt.off.defer;
    let mem = &rt.mem;
    if depth > MAX_RANGEFUNC_DEPTH {
        return Err(Error::corrupt(format!(
            "rangefunc _defer records nest over {MAX_RANGEFUNC_DEPTH} deep at {first:#x}"
        ))
        .at(first));
    }
    let mut d = first;
    while d != 0 {
        if !seen.insert(d) {
            return Err(Error::corrupt(format!("the _defer list is cyclic at {d:#x}")).at(d));
        }
        if seen.len() > MAX_DEFERS {
            return Err(Error::corrupt(format!("stopped after {MAX_DEFERS} deferred calls")).at(d));
        }
        let flag = |off: Option<u64>| {
            off.map_or(Ok(false), |off| {
                mem.read_u8(d.wrapping_add(off)).map(|b| b != 0)
            })
        };
        let read = || -> crate::error::Result<_> {
            Ok((
                mem.read_u8(d.wrapping_add(o.heap))? != 0,
                mem.read_u64(d.wrapping_add(o.sp))?,
                mem.read_u64(d.wrapping_add(o.pc))?,
                mem.read_ptr(d.wrapping_add(o.func))?,
                mem.read_ptr(d.wrapping_add(o.link))?,
                flag(o.started)?,
                flag(o.open_defer)?,
                flag(o.rangefunc)?,
            ))
        };
        let (heap, sp, pc, func, link, started, open_defer, rangefunc) =
            read().map_err(|e| e.context(&format!("_defer at {d:#x}")))?;
        // go1.21 keeps records of open-coded frames and of calls already running: the
        // first are listed from the frames, the second are no longer pending.
        if !started && !open_defer {
            if rangefunc {
                let head = o
                    .head
                    .map_or(Ok(0), |off| mem.read_ptr(d.wrapping_add(off)))
                    .and_then(|h| if h == 0 { Ok(0) } else { mem.read_ptr(h) })
                    .map_err(|e| e.context(&format!("rangefunc _defer at {d:#x}")))?;
                let mut inner = Vec::new();
                let result =
                    read_records(rt, code, head, seen, depth.saturating_add(1), &mut inner);
                for (_, mut call) in inner {
                    call.kind = "rangefunc";
                    out.push((sp, call));
                }
                result?;
            } else if func != 0 {
                let (function, fpc) = closure_target(rt, code, func);
                // The pc after the call to deferproc lies on the defer statement's line.
                let loc = code.tab.pc_line(pc.wrapping_sub(1).wrapping_sub(code.bias));
                out.push((
                    sp,
                    Defer {
                        function,
                        file: loc.map(|l| l.file.to_string()),
                        line: loc.map(|l| l.line),
                        kind: if heap { "heap" } else { "stack" },
                        frame: None,
                        frame_sp: Some(sp),
                        pc: fpc,
                        closure: func,
                    },
                ));
            }
        }
        d = link;
    }
    Ok(())
}

/// The calls an open-coded frame still has to make, the last `defer` statement first.
fn open_coded_calls(
    rt: &Runtime,
    code: &Code<'_>,
    f: &PhysFrame,
    info: &OpenCoded,
    out: &mut Vec<Defer>,
) {
    let varp = varp(f);
    let bits_at = match info {
        OpenCoded::Slots { bits, .. } | OpenCoded::Offsets { bits, .. } => varp.wrapping_sub(*bits),
    };
    let Ok(bits) = rt.mem.read_u8(bits_at) else {
        return;
    };
    for i in (0..8u64).rev() {
        if bits & (1 << i) == 0 {
            continue;
        }
        let slot = match info {
            OpenCoded::Slots { slots, .. } => {
                varp.wrapping_sub(*slots).wrapping_add(i.wrapping_mul(PTR))
            }
            OpenCoded::Offsets { closures, .. } => match closures.get(i as usize) {
                Some(off) => varp.wrapping_sub(*off),
                None => continue,
            },
        };
        let fv = rt.mem.read_ptr(slot).unwrap_or(0);
        let (function, pc) = if fv != 0 {
            closure_target(rt, code, fv)
        } else {
            (format!("? (unreadable defer slot {slot:#x})"), 0)
        };
        out.push(Defer {
            function,
            file: None,
            line: None,
            kind: "open-coded",
            frame: frame_name(code, f),
            frame_sp: Some(f.sp),
            pc,
            closure: fv,
        });
    }
}

/// The first `keep` panics of the `_panic` list from `first`, innermost first, and how many
/// older ones follow them; `value` decodes each panic's value.
pub(super) fn panics(
    rt: &Runtime,
    first: u64,
    keep: usize,
    value: &dyn Fn(u64, u64) -> Result<(String, String, bool), Error>,
) -> (Vec<Panic>, usize, Option<Error>) {
    let o = &rt.off.panic;
    let mem = &rt.mem;
    let mut out = Vec::new();
    let mut more = 0usize;
    let mut seen = HashSet::new();
    let mut p = first;
    while p != 0 {
        if !seen.insert(p) {
            let e = Error::corrupt(format!("the _panic list is cyclic at {p:#x}")).at(p);
            return (out, more, Some(e));
        }
        if out.len().saturating_add(more) >= MAX_PANICS {
            let e = Error::corrupt(format!("stopped after {MAX_PANICS} panics"));
            return (out, more, Some(e.at(p)));
        }
        if out.len() >= keep {
            // Past the limit the list is only counted.
            match mem.read_ptr(p.wrapping_add(o.link)) {
                Ok(link) => {
                    more = more.saturating_add(1);
                    p = link;
                    continue;
                }
                Err(e) => return (out, more, Some(e.context(&format!("_panic at {p:#x}")))),
            }
        }
        let flag = |off: Option<u64>| -> crate::error::Result<bool> {
            off.map_or(Ok(false), |off| {
                mem.read_u8(p.wrapping_add(off)).map(|b| b != 0)
            })
        };
        let read = || -> crate::error::Result<_> {
            Ok((
                mem.read_ptr(p.wrapping_add(o.arg_type))?,
                mem.read_ptr(p.wrapping_add(o.arg_data))?,
                mem.read_ptr(p.wrapping_add(o.link))?,
                flag(Some(o.recovered))?,
                flag(Some(o.goexit))?,
                flag(o.aborted)?,
                flag(o.repanicked)?,
            ))
        };
        let (typ, data, link, recovered, goexit, aborted, repanicked) = match read() {
            Ok(v) => v,
            Err(e) => return (out, more, Some(e.context(&format!("_panic at {p:#x}")))),
        };
        let (type_name, message, exact, error) = match value(typ, data) {
            Ok((t, m, exact)) => (t, m, exact, None),
            Err(e) => (String::from("?"), String::new(), false, Some(e)),
        };
        let (error_kind, error_addr) = (
            error.as_ref().map(|e| e.kind().name()),
            error.as_ref().and_then(Error::addr),
        );
        out.push(Panic {
            message,
            type_name,
            exact,
            recovered,
            aborted,
            goexit,
            repanicked,
            error: error.map(|e| e.to_string()),
            error_kind,
            error_addr,
        });
        p = link;
    }
    (out, more, None)
}
