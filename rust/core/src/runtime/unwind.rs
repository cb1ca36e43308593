//! Stack unwinding from pclntab alone, following the rules of `runtime/traceback.go`: frame
//! sizes from the pcsp table, return addresses read from the frame, the same treatment of
//! top frames, SP-writing functions, injected calls (sigpanic, asyncPreempt) and system
//! stack switches — plus what a debugger needs beyond the runtime's own traceback: leaving
//! a signal handler through the ucontext the kernel saved for `runtime.sigtramp`.

use std::cell::RefCell;

use serde::Serialize;

use crate::arch::{Arch, SignalContext};
use crate::binary::pclntab::{Func, Pclntab};
use crate::error::{Error, ErrorKind};
use crate::fasthash::FastMap;
use crate::target::{Memory, MemoryExt};

/// `abi.FuncFlag` bits.
const FLAG_TOP_FRAME: u8 = 1;
const FLAG_SP_WRITE: u8 = 2;

const PTR: u64 = 8;

/// Runtime functions the unwinder treats specially, known by name (their numeric FuncIDs
/// shift between releases, their names do not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    Morestack,
    Systemstack,
    SystemstackSwitch,
    Mcall,
    Sigpanic,
    AsyncPreempt,
    DebugCallV2,
    Cgocallback,
    Asmcgocall,
    /// The signal handler (`runtime.sigtramp`, and `runtime.cgoSigtramp` in cgo programs),
    /// entered by the kernel with the ucontext above its return slot.
    Sigtramp,
    /// The restorer the kernel returns to after a handler (`rt_sigreturn`).
    Sigreturn,
    /// The bottom of goroutine stacks (`goexit`, and `goexit0` that `mcall` runs it on).
    Goexit,
    /// The bottom of system stacks (`mstart`, `mstart0`).
    Mstart,
    Rt0Go,
    /// `runtime.fatalpanic` and `runtime.fatalthrow`: a fatal panic's or throw's traceback
    /// starts at their caller.
    CrashOrigin,
}

const SPECIAL_NAMES: &[(&str, Special)] = &[
    ("runtime.morestack", Special::Morestack),
    ("runtime.systemstack", Special::Systemstack),
    ("runtime.systemstack_switch", Special::SystemstackSwitch),
    ("runtime.mcall", Special::Mcall),
    ("runtime.sigpanic", Special::Sigpanic),
    ("runtime.asyncPreempt", Special::AsyncPreempt),
    ("runtime.debugCallV2", Special::DebugCallV2),
    ("runtime.cgocallback", Special::Cgocallback),
    ("runtime.asmcgocall", Special::Asmcgocall),
    ("runtime.sigtramp", Special::Sigtramp),
    ("runtime.cgoSigtramp", Special::Sigtramp),
    ("runtime.sigreturn__sigaction", Special::Sigreturn),
    ("runtime.sigreturn", Special::Sigreturn),
    ("runtime.goexit", Special::Goexit),
    ("runtime.goexit0", Special::Goexit),
    ("runtime.mstart", Special::Mstart),
    ("runtime.mstart0", Special::Mstart),
    ("runtime.rt0_go", Special::Rt0Go),
    ("runtime.fatalpanic", Special::CrashOrigin),
    ("runtime.fatalthrow", Special::CrashOrigin),
];

/// The special function called `name`, if it is one.
fn special_named(name: &str) -> Option<Special> {
    SPECIAL_NAMES
        .iter()
        .find(|&&(n, _)| n == name)
        .map(|&(_, s)| s)
}

/// How a frame unwinder must treat the frames of a function, by the rules [`walk`] follows:
/// what a debugger's own unwinder (GDB's) asks for each frame, so that the rules exist once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameRule {
    /// Nothing called it (a top frame, or the bottom of a goroutine or system stack): the
    /// stack ends here.
    Outermost,
    /// Runs on the system stack for the goroutine whose context is in `curg.sched`
    /// (`systemstack`, `morestack`; `asmcgocall` saves it the same way before calling C).
    SwitchesStack,
    /// Called as if by the instruction that faulted or was preempted: the caller's pc is that
    /// instruction, not a return address.
    Injected,
    /// A signal handler: the kernel's ucontext lies above its return slot.
    SignalHandler,
    /// The restorer a signal handler returns to: the kernel's signal frame, which a
    /// debugger's own signal-frame unwinder reads.
    SignalReturn,
    Ordinary,
}

impl FrameRule {
    pub fn name(self) -> &'static str {
        match self {
            FrameRule::Outermost => "outermost",
            FrameRule::SwitchesStack => "switch",
            FrameRule::Injected => "injected",
            FrameRule::SignalHandler => "signal",
            FrameRule::SignalReturn => "sigreturn",
            FrameRule::Ordinary => "ordinary",
        }
    }
}

/// The rule for frames of `f`, and whether `f` sets SP in a way its frame-size table cannot
/// describe (past such a frame, only the innermost can be unwound).
pub fn frame_rule(f: &Func<'_>) -> (FrameRule, bool) {
    let special = special_named(f.name());
    let rule = match special {
        Some(Special::Sigtramp) => FrameRule::SignalHandler,
        Some(Special::Sigreturn) => FrameRule::SignalReturn,
        Some(Special::Sigpanic | Special::AsyncPreempt | Special::DebugCallV2) => {
            FrameRule::Injected
        }
        Some(Special::Goexit | Special::Mstart | Special::Rt0Go) => FrameRule::Outermost,
        _ if f.flag() & FLAG_TOP_FRAME != 0 => FrameRule::Outermost,
        Some(Special::Systemstack | Special::Morestack | Special::Asmcgocall) => {
            FrameRule::SwitchesStack
        }
        _ => FrameRule::Ordinary,
    };
    (rule, writes_sp(f.flag(), special))
}

/// Whether a frame with `flag` ends a walk that is past its innermost frame. `cgocallback`
/// writes SP only to switch to the goroutine stack, which the walk follows.
fn writes_sp(flag: u8, special: Option<Special>) -> bool {
    flag & FLAG_SP_WRITE != 0 && special != Some(Special::Cgocallback)
}

/// Function lookup in runtime addresses: pclntab plus the load bias, and the specials.
/// Lookups are memoised per pc: many goroutines share the same few return addresses.
pub struct Code<'a> {
    pub tab: &'a Pclntab,
    pub bias: u64,
    /// Where the kernel's signal frame keeps the interrupted pc and sp.
    signal: Option<&'static SignalContext>,
    specials: Vec<(u64, Special)>,
    by_pc: RefCell<FastMap<u64, Option<PcInfo>>>,
}

/// What the unwinder needs to know about one pc.
#[derive(Debug, Clone, Copy)]
struct PcInfo {
    index: usize,
    delta: Option<u64>,
}

impl<'a> Code<'a> {
    pub fn new(tab: &'a Pclntab, bias: u64, arch: Arch) -> Self {
        let mut specials: Vec<(u64, Special)> = SPECIAL_NAMES
            .iter()
            .filter_map(|&(name, s)| tab.find_by_name(name).map(|f| (f.entry(), s)))
            .collect();
        specials.sort_unstable_by_key(|&(e, _)| e);
        Code {
            tab,
            bias,
            signal: arch.signal_context(),
            specials,
            by_pc: RefCell::new(FastMap::default()),
        }
    }

    fn info(&self, pc: u64) -> Option<PcInfo> {
        if let Some(hit) = self.by_pc.borrow().get(&pc) {
            return *hit;
        }
        let info = pc.checked_sub(self.bias).and_then(|static_pc| {
            let f = self.tab.find(static_pc)?;
            let delta = f.sp_delta(static_pc).and_then(|d| u64::try_from(d).ok());
            Some(PcInfo {
                index: f.index(),
                delta,
            })
        });
        self.by_pc.borrow_mut().insert(pc, info);
        info
    }

    /// The function containing runtime address `pc`.
    pub fn find(&self, pc: u64) -> Option<Func<'a>> {
        self.tab.func(self.info(pc)?.index)
    }

    pub fn special(&self, f: &Func<'_>) -> Option<Special> {
        let i = self
            .specials
            .binary_search_by_key(&f.entry(), |&(e, _)| e)
            .ok()?;
        self.specials.get(i).map(|&(_, s)| s)
    }

    /// Runtime address of a function's entry.
    pub fn entry(&self, f: &Func<'_>) -> u64 {
        f.entry().wrapping_add(self.bias)
    }

    /// Frame size at runtime address `pc` of `f`.
    fn sp_delta(&self, f: &Func<'_>, pc: u64) -> Option<u64> {
        match self.info(pc) {
            Some(i) if i.index == f.index() => i.delta,
            _ => u64::try_from(f.sp_delta(pc.wrapping_sub(self.bias))?).ok(),
        }
    }
}

/// Which stack of an M or goroutine a frame lies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StackKind {
    Goroutine,
    G0,
    Gsignal,
    Unknown,
}

/// One physical frame.
#[derive(Debug, Clone, Serialize)]
pub struct PhysFrame {
    pub pc: u64,
    pub sp: u64,
    pub fp: u64,
    /// The pc is an interrupted instruction, not a return address: symbolize it as is.
    pub trap: bool,
    /// The g whose stack holds the frame.
    pub g: u64,
    pub stack: StackKind,
}

impl PhysFrame {
    /// The pc to symbolize: the call instruction for a return address (as the runtime's
    /// `symPC` does), the pc itself for a trap or a function entry.
    pub fn sym_pc(&self, entry: u64) -> u64 {
        if !self.trap && self.pc > entry {
            self.pc.wrapping_sub(1)
        } else {
            self.pc
        }
    }
}

/// A g's stack as the unwinder needs it: bounds and, for a g0, the M's current goroutine.
#[derive(Debug, Clone, Copy)]
pub struct GStack {
    pub g: u64,
    pub lo: u64,
    pub hi: u64,
    pub kind: StackKind,
}

/// What the unwinder asks of the runtime about stacks.
pub trait Stacks {
    /// The stack of `g`.
    fn stack_of(&self, g: u64) -> Option<GStack>;
    /// For a g0: the M's curg, if the curg is on that M, and its saved (pc, sp, lr).
    fn curg_switch(&self, g0: u64) -> Option<(u64, u64, u64, u64)>;
    /// The g whose stack contains `sp`, among the stacks of the M that owns `g`.
    fn owner_of_sp(&self, g: u64, sp: u64) -> Option<GStack>;
}

/// Where to start unwinding.
#[derive(Debug, Clone, Copy)]
pub struct Start {
    pub pc: u64,
    pub sp: u64,
    pub lr: u64,
    pub g: u64,
    /// Interrupted instruction (a signal context or a stopped thread), not a return address.
    pub trap: bool,
    /// Saved syscall pc/sp: a function that writes SP may still be unwound past.
    pub syscall: bool,
}

/// Result of one walk: frames innermost first, and why the walk ended early, if it did.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    pub frames: Vec<PhysFrame>,
    pub error: Option<String>,
    /// The kind of `error`, and the target address that failed, when it says one.
    pub error_kind: Option<ErrorKind>,
    pub error_addr: Option<u64>,
}

impl Walk {
    /// A walk that ended with `error` before its first frame.
    pub fn failed(error: Error) -> Walk {
        let mut walk = Walk::default();
        walk.fail(error);
        walk
    }

    fn fail(&mut self, error: Error) {
        self.error_kind = Some(error.kind());
        self.error_addr = error.addr();
        self.error = Some(error.to_string());
    }
}

fn unreadable_g(g: u64) -> Error {
    Error::new(ErrorKind::Unreadable, format!("g {g:#x} is unreadable")).at(g)
}

struct State<'f> {
    pc: u64,
    sp: u64,
    fp: u64,
    lr: u64,
    func: Func<'f>,
    trap: bool,
    stack: GStack,
}

/// Unwinds from `start` for at most `max_frames` frames, crossing g0 → goroutine stack
/// switches and signal frames.
pub fn walk<'f>(
    code: &Code<'f>,
    mem: &dyn Memory,
    stacks: &dyn Stacks,
    start: Start,
    max_frames: usize,
) -> Walk {
    let mut out = Walk {
        frames: Vec::with_capacity(32),
        ..Walk::default()
    };
    let Some(mut stack) = stacks.stack_of(start.g) else {
        out.fail(unreadable_g(start.g));
        return out;
    };
    let (mut pc, mut sp) = (start.pc, start.sp);
    if pc == 0 {
        // A call through a nil function value: start in the caller.
        match mem.read_ptr(sp) {
            Ok(ret) => {
                pc = ret;
                sp = sp.wrapping_add(PTR);
            }
            Err(e) => {
                out.fail(e);
                return out;
            }
        }
    }
    let Some(func) = code.find(pc) else {
        out.fail(Error::corrupt(format!("unknown pc {pc:#x}")).at(pc));
        return out;
    };
    match stacks.owner_of_sp(stack.g, sp) {
        Some(owner) => stack = owner,
        None if stack.kind == StackKind::Goroutine => {
            out.fail(
                Error::corrupt(format!(
                    "saved SP {sp:#x} lies outside the goroutine's stack [{:#x}, {:#x})",
                    stack.lo, stack.hi
                ))
                .at(sp),
            );
            return out;
        }
        None => {}
    }
    let mut st = State {
        pc,
        sp,
        fp: 0,
        lr: start.lr,
        func,
        trap: start.trap,
        stack,
    };
    let mut innermost = true;
    let mut is_syscall = start.syscall;
    loop {
        if out.frames.len() >= max_frames {
            out.fail(Error::corrupt(format!("stopped after {max_frames} frames")).at(st.sp));
            return out;
        }
        if let Err(e) = resolve(code, mem, stacks, &mut st, innermost, is_syscall) {
            out.fail(e);
            return out;
        }
        out.frames.push(PhysFrame {
            pc: st.pc,
            sp: st.sp,
            fp: st.fp,
            trap: st.trap,
            g: st.stack.g,
            stack: st.stack.kind,
        });
        innermost = false;
        is_syscall = false;
        // A signal handler's stack ends in sigtramp; the interrupted context is in the
        // ucontext the kernel pushed just above sigtramp's return slot.
        if code.special(&st.func) == Some(Special::Sigtramp) {
            match signal_context(code, mem, stacks, &st) {
                Ok(Some(next)) => {
                    st = next;
                    is_syscall = false;
                    continue;
                }
                Ok(None) => return out,
                Err(e) => {
                    out.fail(e);
                    return out;
                }
            }
        }
        if st.lr == 0 {
            return out;
        }
        let Some(caller) = code.find(st.lr) else {
            out.fail(
                Error::corrupt(format!(
                    "unexpected return pc {:#x} for {}",
                    st.lr,
                    st.func.name()
                ))
                .at(st.lr),
            );
            return out;
        };
        if st.pc == st.lr && st.sp == st.fp {
            out.fail(
                Error::corrupt(format!(
                    "traceback stuck at pc {:#x} sp {:#x}",
                    st.pc, st.sp
                ))
                .at(st.sp),
            );
            return out;
        }
        let injected = matches!(
            code.special(&st.func),
            Some(Special::Sigpanic | Special::AsyncPreempt | Special::DebugCallV2)
        );
        if st.fp <= st.sp || st.fp > st.stack.hi {
            out.fail(
                Error::corrupt(format!(
                    "frame of {} at sp {:#x} runs past its stack [{:#x}, {:#x})",
                    st.func.name(),
                    st.sp,
                    st.stack.lo,
                    st.stack.hi
                ))
                .at(st.sp),
            );
            return out;
        }
        st.trap = injected;
        st.func = caller;
        st.pc = st.lr;
        st.lr = 0;
        st.sp = st.fp;
        st.fp = 0;
    }
}

/// Computes the frame pointer and the return address of the current frame, as the
/// runtime's `resolveInternal` does.
fn resolve<'f>(
    code: &Code<'f>,
    mem: &dyn Memory,
    stacks: &dyn Stacks,
    st: &mut State<'f>,
    innermost: bool,
    is_syscall: bool,
) -> Result<(), Error> {
    let mut flag = st.func.flag();
    let special = code.special(&st.func);
    if !writes_sp(flag, special) || is_syscall {
        flag &= !FLAG_SP_WRITE;
    }
    if st.fp == 0 {
        if st.stack.kind == StackKind::G0 {
            if let Some((curg, cpc, csp, clr)) = stacks.curg_switch(st.stack.g) {
                match special {
                    Some(Special::Morestack) => {
                        let f = code.find(cpc).ok_or_else(|| {
                            Error::corrupt(format!("unknown pc {cpc:#x} saved by morestack"))
                                .at(cpc)
                        })?;
                        st.stack = stacks.stack_of(curg).ok_or_else(|| unreadable_g(curg))?;
                        st.pc = cpc;
                        st.func = f;
                        flag = f.flag();
                        st.lr = clr;
                        st.sp = csp;
                    }
                    Some(Special::Systemstack) => {
                        st.stack = stacks.stack_of(curg).ok_or_else(|| unreadable_g(curg))?;
                        st.sp = csp;
                        flag &= !FLAG_SP_WRITE;
                    }
                    _ => {}
                }
            }
        }
        let delta = code.sp_delta(&st.func, st.pc).ok_or_else(|| {
            Error::corrupt(format!(
                "no frame size for {} at pc {:#x}",
                st.func.name(),
                st.pc
            ))
            .at(st.pc)
        })?;
        // The call instruction pushed the return address just above the frame.
        st.fp = st.sp.wrapping_add(delta).wrapping_add(PTR);
    }
    let sigtramp = special == Some(Special::Sigtramp);
    if flag & FLAG_TOP_FRAME != 0 || sigtramp {
        st.lr = 0;
    } else if flag & FLAG_SP_WRITE != 0 {
        // A function that sets SP to a value the tables cannot describe ends the walk, as
        // it does in the runtime's own tracebacks.
        st.lr = 0;
    } else if st.lr == 0 {
        st.lr = mem
            .read_ptr(st.fp.wrapping_sub(PTR))
            .map_err(|e| e.context(&format!("return address of {}", st.func.name())))?;
    }
    let _ = innermost;
    Ok(())
}

/// Leaves `runtime.sigtramp` for the interrupted context. The kernel entered sigtramp with
/// SP at the signal frame's return slot, with the ucontext right after it; sigtramp's frame
/// pointer (SP at entry plus one word) is therefore the ucontext's address.
fn signal_context<'f>(
    code: &Code<'f>,
    mem: &dyn Memory,
    stacks: &dyn Stacks,
    st: &State<'f>,
) -> Result<Option<State<'f>>, Error> {
    let uc = st.fp;
    let Some(layout) = code.signal else {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "no signal frame layout for this architecture",
        ));
    };
    let pc = mem
        .read_u64(uc.wrapping_add(layout.pc))
        .map_err(|e| e.context("signal context"))?;
    let sp = mem
        .read_u64(uc.wrapping_add(layout.sp))
        .map_err(|e| e.context("signal context"))?;
    let Some(func) = code.find(pc) else {
        // Interrupted outside Go code (C code in a cgo call, or the vDSO): stop here.
        return Ok(None);
    };
    let Some(stack) = stacks.owner_of_sp(st.stack.g, sp) else {
        return Err(Error::corrupt(format!(
            "signal context sp {sp:#x} lies on no stack of this thread"
        ))
        .at(sp));
    };
    Ok(Some(State {
        pc,
        sp,
        fp: 0,
        lr: 0,
        func,
        trap: true,
        stack,
    }))
}
