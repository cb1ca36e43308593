//! What crashed and why: the signal that ended the process, the thread and goroutine that
//! took it, the signal the runtime recorded on that goroutine (what Go prints as
//! `[signal SIGSEGV: segmentation violation code=... addr=... pc=...]`), the message of a
//! fatal error (`throw`), and the goroutine's panics.

use serde::Serialize;

use crate::runtime::unwind::{self, Code, Stacks, Start};
use crate::runtime::{Goroutine, Panic, Runtime};
use crate::target::{signal_name, MemoryExt, SignalInfo};

/// Faults below this address are nil dereferences, as the runtime's `sigpanic` decides.
const NIL_PAGE: u64 = 0x1000;
/// Longest fatal-error message read from a throw's frame.
const MAX_THROW_MESSAGE: u64 = 4096;
const PTR: u64 = 8;
const SIGBUS: u32 = 7;
/// Signals the kernel raises for faults.
const FAULTS: [u32; 5] = [4, 5, 7, 8, 11];
const SIGSEGV: u32 = 11;

/// A signal as the kernel or the runtime recorded it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SignalView {
    pub number: u32,
    /// `SIGSEGV`.
    pub name: String,
    /// What the Go runtime calls it: `SIGSEGV: segmentation violation`.
    pub description: String,
    pub code: i64,
    /// The faulting address, when the signal is a fault.
    pub addr: Option<u64>,
    /// Where it happened (the runtime's `g.sigpc`), when known.
    pub pc: Option<u64>,
    /// A SIGSEGV or SIGBUS at an address in the first page.
    pub nil_dereference: bool,
    /// Who sent it, for a signal another process (or the runtime itself) sent.
    pub sender_pid: Option<i32>,
    /// The process sent it to itself: the Go runtime aborting after printing a fatal
    /// panic or error (GOTRACEBACK=crash), or a call to abort().
    #[serde(default)]
    pub self_sent: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Crash {
    /// The signal that ended the process (NT_SIGINFO or the first thread's).
    pub signal: Option<SignalView>,
    /// The thread that took it.
    pub thread: Option<u32>,
    /// The goroutine running on that thread, if any.
    pub goroutine: Option<u64>,
    /// The signal the runtime recorded on that goroutine, which it prints as
    /// `[signal ...]` after the panic.
    pub goroutine_signal: Option<SignalView>,
    /// The message of `fatal error: ...`, read from the throw's frame.
    pub fatal_error: Option<String>,
    /// A fault the runtime's signal handler was handling on the crashing thread (from the
    /// siginfo the kernel put beside the handler's frame): what Go prints as
    /// `SIGSEGV: segmentation violation` / `PC=... sigcode=... addr=...` for a fault in C code.
    pub handled_signal: Option<SignalView>,
    /// The crashing goroutine's panics, innermost first.
    pub panics: Vec<Panic>,
    /// One line saying what happened.
    pub summary: String,
}

/// The Go runtime's name and description of a signal (`sigtable`).
pub fn describe_signal(sig: u32) -> String {
    const DESCRIPTIONS: [&str; 32] = [
        "no trap",
        "terminal line hangup",
        "interrupt",
        "quit",
        "illegal instruction",
        "trace trap",
        "abort",
        "bus error",
        "floating-point exception",
        "kill",
        "user-defined signal 1",
        "segmentation violation",
        "user-defined signal 2",
        "write to broken pipe",
        "alarm clock",
        "termination",
        "stack fault",
        "child status has changed",
        "continue",
        "stop, unblockable",
        "keyboard stop",
        "background read from tty",
        "background write to tty",
        "urgent condition on socket",
        "cpu limit exceeded",
        "file size limit exceeded",
        "virtual alarm clock",
        "profiling alarm clock",
        "window size change",
        "i/o now possible",
        "power failure restart",
        "bad system call",
    ];
    match DESCRIPTIONS.get(sig as usize) {
        Some(d) if sig > 0 => format!("{}: {d}", signal_name(sig as i32)),
        _ => format!("signal {sig}"),
    }
}

fn is_nil_fault(sig: u32, addr: Option<u64>) -> bool {
    (sig == SIGSEGV || sig == SIGBUS) && addr.is_some_and(|a| a < NIL_PAGE)
}

fn from_siginfo(info: &SignalInfo) -> SignalView {
    let number = u32::try_from(info.signo).unwrap_or(0);
    SignalView {
        number,
        name: info.signal_name(),
        description: describe_signal(number),
        code: i64::from(info.code),
        addr: info.fault_addr,
        pc: None,
        nil_dereference: info.from_kernel() && is_nil_fault(number, info.fault_addr),
        sender_pid: info.sender_pid,
        self_sent: false,
    }
}

/// What crashed and why, from the core's signal, the crashing thread and the runtime's
/// own records; None when no thread took a signal (a live process, a `gcore`).
pub fn crash(rt: &Runtime) -> Option<Crash> {
    let (index, thread) = rt
        .raw_threads()
        .iter()
        .enumerate()
        .find(|(_, t)| t.signal != 0 || t.siginfo.is_some())?;
    let lwps: Vec<i64> = rt.raw_threads().iter().map(|t| i64::from(t.lwp)).collect();
    let signal = thread.siginfo.as_ref().map(from_siginfo).map(|mut s| {
        s.self_sent = s.sender_pid.is_some_and(|p| lwps.contains(&i64::from(p)));
        s
    });
    let signal = signal.or_else(|| {
        (thread.signal != 0).then(|| SignalView {
            number: thread.signal,
            name: signal_name(thread.signal as i32),
            description: describe_signal(thread.signal),
            code: 0,
            addr: None,
            pc: None,
            nil_dereference: false,
            sender_pid: None,
            self_sent: false,
        })
    });
    let m = rt.ms().iter().find(|m| m.procid == u64::from(thread.lwp));
    let curg = m.map_or(0, |m| m.curg);
    let goroutine = (curg != 0)
        .then(|| {
            rt.memory()
                .read_u64(curg.wrapping_add(rt.offsets().g.goid))
                .ok()
        })
        .flatten();
    let goroutine_signal = (curg != 0).then(|| goroutine_signal(rt, curg)).flatten();
    let (fatal_error, mut handled_signal) = thread_evidence(rt, index);
    if handled_signal.is_none() {
        // Another thread may have taken the fault and be waiting in its handler while
        // this one dumps (go1.21 does that).
        handled_signal = (0..rt.raw_threads().len())
            .filter(|&i| i != index)
            .find_map(|i| thread_evidence(rt, i).1);
    }
    let panics = match goroutine {
        Some(id) => rt
            .goroutine_whole(id)
            .map(|g: Goroutine| g.panics)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let summary = summary(
        signal.as_ref(),
        goroutine,
        goroutine_signal.as_ref().or(handled_signal.as_ref()),
        fatal_error.as_deref(),
        &panics,
    );
    Some(Crash {
        signal,
        thread: Some(thread.lwp),
        goroutine,
        goroutine_signal,
        fatal_error,
        handled_signal,
        panics,
        summary,
    })
}

/// `g.sig` and its code, address and pc, as `dopanic_m` prints them.
fn goroutine_signal(rt: &Runtime, gp: u64) -> Option<SignalView> {
    let o = &rt.offsets().sig;
    let sig = rt
        .memory()
        .read_u32(gp.wrapping_add(o.sig))
        .ok()
        .filter(|&s| s != 0)?;
    let code = rt.memory().read_u64(gp.wrapping_add(o.sigcode0)).ok()?;
    let addr = rt.memory().read_u64(gp.wrapping_add(o.sigcode1)).ok()?;
    let pc = rt.memory().read_u64(gp.wrapping_add(o.sigpc)).ok()?;
    Some(SignalView {
        number: sig,
        name: signal_name(sig as i32),
        description: describe_signal(sig),
        code: code as i64,
        addr: Some(addr),
        pc: Some(pc),
        nil_dereference: is_nil_fault(sig, Some(addr)),
        sender_pid: None,
        self_sent: false,
    })
}

/// From the crashing thread's stack: the message `throw` or `fatal` printed (both print
/// from a closure on the system stack, whose context — its code pointer, then the
/// string — lies in their frame), and the fault a signal handler was handling.
fn thread_evidence(rt: &Runtime, thread: usize) -> (Option<String>, Option<SignalView>) {
    let Some(t) = rt.raw_threads().get(thread) else {
        return (None, None);
    };
    let code = Code::new(rt.binary().pclntab(), rt.bias(), rt.binary().image().arch);
    let closures: Vec<u64> = ["runtime.throw.func1", "runtime.fatal.func1"]
        .iter()
        .filter_map(|n| rt.binary().pclntab().find_by_name(n))
        .map(|f| f.entry().wrapping_add(rt.bias()))
        .collect();
    let regs = &t.registers;
    let sp = regs.sp();
    let m = rt.ms().iter().find(|m| m.procid == u64::from(t.lwp));
    let g = m
        .and_then(|m| {
            [m.g0, m.gsignal, m.curg]
                .into_iter()
                .filter(|&g| g != 0)
                .find(|&g| rt.owner_of_sp(g, sp).is_some())
        })
        .unwrap_or(0);
    let walk = unwind::walk(
        &code,
        rt.memory(),
        rt,
        Start {
            pc: regs.pc(),
            sp,
            lr: regs.lr().unwrap_or(0),
            g,
            trap: true,
            syscall: false,
        },
        256,
    );
    let mut message = None;
    let mut handled = None;
    for f in &walk.frames {
        let Some(func) = code.find(f.pc) else {
            continue;
        };
        if unwind::frame_rule(&func).0 == unwind::FrameRule::SignalHandler {
            // The kernel's rt_sigframe: the return address, the ucontext, then the siginfo;
            // the handler's frame pointer is the ucontext.
            if let Some(sig) = siginfo_at(rt, f.fp) {
                if FAULTS.contains(&sig.number) {
                    handled = Some(sig);
                }
            }
            continue;
        }
        if message.is_some() || !matches!(func.name(), "runtime.throw" | "runtime.fatal") {
            continue;
        }
        let mut at = f.sp;
        // Checked: with garbage bounds a wrapped end would keep the scan going round the
        // address space.
        while message.is_none() && at.checked_add(3 * PTR).is_some_and(|end| end <= f.fp) {
            if rt
                .memory()
                .read_u64(at)
                .is_ok_and(|w| closures.contains(&w))
            {
                // The string is among the closure's first captured words (some
                // releases capture another value before it).
                message = [PTR, 2 * PTR, 3 * PTR]
                    .into_iter()
                    .find_map(|off| message_at(rt, at.wrapping_add(off)));
            }
            at = at.wrapping_add(PTR);
        }
    }
    (message, handled)
}

/// The fault signal in the signal frame whose ucontext is at `uc`.
fn siginfo_at(rt: &Runtime, uc: u64) -> Option<SignalView> {
    let layout = rt.binary().image().arch.signal_context()?;
    let info = uc.checked_add(layout.ucontext_size)?;
    let number = rt.memory().read_u32(info).ok()?;
    let code = rt.memory().read_i32(info.wrapping_add(8)).ok()?;
    let addr = rt.memory().read_u64(info.wrapping_add(16)).ok()?;
    let pc = rt.memory().read_u64(uc.wrapping_add(layout.pc)).ok()?;
    Some(SignalView {
        number,
        name: signal_name(number as i32),
        description: describe_signal(number),
        code: i64::from(code),
        addr: Some(addr),
        pc: Some(pc),
        nil_dereference: code > 0 && is_nil_fault(number, Some(addr)),
        sender_pid: None,
        self_sent: false,
    })
}

/// The string whose header is at `at`, if it looks like a message: readable, not empty,
/// bounded, valid UTF-8 without control characters other than newlines and tabs.
fn message_at(rt: &Runtime, at: u64) -> Option<String> {
    let ptr = rt.memory().read_u64(at).ok()?;
    let len = rt.memory().read_u64(at.wrapping_add(PTR)).ok()?;
    if ptr == 0 || len == 0 || len > MAX_THROW_MESSAGE {
        return None;
    }
    let bytes = rt.memory().read_vec(ptr, len as usize).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.chars()
        .all(|c| !c.is_control() || c == '\n' || c == '\t')
        .then_some(text)
}

fn summary(
    signal: Option<&SignalView>,
    goroutine: Option<u64>,
    gsig: Option<&SignalView>,
    fatal: Option<&str>,
    panics: &[Panic],
) -> String {
    let on = goroutine.map_or(String::new(), |g| format!(" in goroutine {g}"));
    if let Some(msg) = fatal {
        let mut s = format!("fatal error: {msg}{on}");
        if let Some(sig) = gsig {
            s.push_str(&format!(" ({}", sig.description));
            if let Some(addr) = sig.addr {
                s.push_str(&format!(" at {addr:#x}"));
            }
            s.push(')');
        }
        return s;
    }
    // The innermost panic is the one the runtime printed last: the one that killed.
    if let Some(p) = panics.iter().find(|p| !p.goexit) {
        let mut s = format!("panic: {}{on}", p.message);
        if let Some(sig) = gsig.filter(|s| s.nil_dereference) {
            s.push_str(&format!(
                " (nil pointer dereference at {:#x}{})",
                sig.addr.unwrap_or(0),
                sig.pc.map_or(String::new(), |pc| format!(", pc {pc:#x}"))
            ));
        }
        return s;
    }
    match (signal, gsig) {
        (_, Some(sig)) => format!("{}{on}", sig.description),
        (Some(sig), None) => {
            let mut s = format!("killed by {}", sig.description);
            if sig.nil_dereference {
                s.push_str(" (nil pointer dereference)");
            } else if let Some(addr) = sig.addr {
                s.push_str(&format!(" at {addr:#x}"));
            }
            if sig.self_sent {
                s.push_str(", sent by the process itself");
            } else if let Some(pid) = sig.sender_pid {
                s.push_str(&format!(", sent by pid {pid}"));
            }
            s.push_str(&on);
            s
        }
        (None, None) => format!("the process stopped{on}"),
    }
}
