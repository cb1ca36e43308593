//! One frame at a time, for a debugger's own frame unwinder (GDB's): given the registers of a
//! frame, the caller's registers by the rules [`super::unwind::walk`] follows, or why there is
//! no caller. The debugger keeps what only it knows (its frame ids, its DWARF unwinder, the
//! shared libraries it has loaded); which functions are special and how their frames are
//! unwound is decided here, once.

use crate::arch::Arch;
use crate::binary::pclntab::Pclntab;
use crate::error::Result;
use crate::runtime::unwind::{frame_rule, FrameRule};
use crate::runtime::Offsets;
use crate::target::{Memory, MemoryExt};

const PTR: u64 = 8;

/// The Go code of one executable as a debugger has loaded it.
pub struct DebuggerCode<'a> {
    pub tab: &'a Pclntab,
    /// Load address minus link address (PIE).
    pub bias: u64,
    pub arch: Arch,
    /// The debugger reads DWARF call frame information for ordinary frames (and needs its
    /// own CFA there to show locals): those frames are left to it.
    pub cfi: bool,
    /// The runtime's field offsets, when its layout is known: without them a system stack
    /// is not followed to the goroutine it serves.
    pub offsets: Option<&'a Offsets>,
}

/// A frame as the debugger has it.
#[derive(Debug, Clone, Copy, Default)]
pub struct DebuggerFrame {
    pub pc: u64,
    pub sp: u64,
    /// The newest frame of the stack.
    pub innermost: bool,
    /// The pc is an instruction that was interrupted (by a signal or an injected call), not
    /// a return address.
    pub interrupted: bool,
    /// The debugger moved this frame's id (it lies on a goroutine stack reached from a
    /// system stack): its own unwinder would not find the frame consistent, so it is
    /// unwound here.
    pub lifted: bool,
}

/// What lies past a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The pc is not in this executable's Go code: the debugger knows whether anything else
    /// (a shared library, C code with symbols) is there.
    NotGo,
    /// Go code whose frames the debugger's own unwinders describe: ordinary frames with
    /// DWARF CFI, the kernel's signal frame.
    Theirs,
    /// Nothing called this frame: the stack ends here.
    Outermost {
        cfa: u64,
        entry: u64,
    },
    Caller(Caller),
}

/// The caller of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The frame's canonical frame address (its caller's SP), and its function's entry.
    pub cfa: u64,
    pub entry: u64,
    pub pc: u64,
    pub sp: u64,
    /// The caller's frame pointer; None: the frame did not save one, so it is unchanged.
    pub fp: Option<u64>,
    /// Set when the caller is on another g's stack (a system stack continued on the
    /// goroutine it works for, as the runtime's traceback does).
    pub g: Option<u64>,
    /// (sp, pc) of a frame further out whose pc is an interrupted instruction: the caller of
    /// an injected call (sigpanic, asyncPreempt), or the context a signal handler
    /// interrupted.
    pub interrupted: Option<(u64, u64)>,
}

impl DebuggerCode<'_> {
    /// The pc at which to look up the function and line of a frame at static (link-time)
    /// `pc`: `pc` itself where execution is (an interrupted frame, or a function's entry,
    /// since Go pads the end of the function before it), else the call instruction before
    /// the return address.
    pub fn lookup_pc(&self, pc: u64, interrupted: bool) -> u64 {
        if interrupted || self.tab.find(pc).is_some_and(|f| f.entry() == pc) {
            pc
        } else {
            pc.wrapping_sub(1)
        }
    }

    /// Unwinds one frame; `g` reads the frame's g register (None when the debugger does not
    /// know it), asked only at a system stack switch since a debugger may have to unwind
    /// every frame below to answer. Reading target memory may fail; the debugger's own
    /// unwinders then take the frame.
    pub fn step(
        &self,
        mem: &dyn Memory,
        frame: &DebuggerFrame,
        g: &dyn Fn() -> Option<u64>,
    ) -> Result<Step> {
        let static_pc = frame.pc.wrapping_sub(self.bias);
        let (start, end) = self.tab.pc_range();
        if !(start..end).contains(&static_pc) {
            return Ok(Step::NotGo);
        }
        let at = self.lookup_pc(static_pc, frame.innermost || frame.interrupted);
        let Some(func) = self.tab.find(at) else {
            return Ok(Step::Theirs);
        };
        let delta = func.sp_delta(at).and_then(|d| u64::try_from(d).ok());
        let (rule, writes_sp) = frame_rule(&func);
        let entry = func.entry().wrapping_add(self.bias);
        let at_entry = static_pc == func.entry();
        let cfa = frame.sp.wrapping_add(delta.unwrap_or(0)).wrapping_add(PTR);
        match rule {
            FrameRule::SignalReturn => return Ok(Step::Theirs),
            FrameRule::Outermost => return Ok(Step::Outermost { cfa, entry }),
            FrameRule::SwitchesStack if !frame.innermost || !at_entry => {
                if let Some(caller) = self.switch_stack(mem, frame, g, cfa, entry)? {
                    return Ok(Step::Caller(caller));
                }
            }
            _ => {}
        }
        if writes_sp && !frame.innermost && rule != FrameRule::SignalHandler {
            // The function moved SP in a way pcsp cannot describe; the runtime stops here too.
            return Ok(Step::Outermost { cfa, entry });
        }
        // A fault at a function's first instruction is left to no DWARF unwinder: it would
        // look up the previous function there.
        let faulted_at_entry = !frame.innermost && at_entry;
        let own_rule = matches!(rule, FrameRule::Injected | FrameRule::SignalHandler);
        if self.cfi && !own_rule && !faulted_at_entry && !frame.lifted {
            return Ok(Step::Theirs);
        }
        let Some(delta) = delta else {
            return Ok(Step::Theirs);
        };
        let pc = mem.read_ptr(cfa.wrapping_sub(PTR))?;
        let fp = if delta >= PTR {
            Some(mem.read_ptr(cfa.wrapping_sub(2 * PTR))?)
        } else {
            None
        };
        let interrupted = match rule {
            FrameRule::Injected => Some((cfa, pc)),
            // The handler's frame is followed by the kernel's ucontext; the frame after it is
            // the interrupted one.
            FrameRule::SignalHandler => self.arch.signal_context().and_then(|layout| {
                let sp = mem.read_ptr(cfa.wrapping_add(layout.sp)).ok()?;
                let pc = mem.read_ptr(cfa.wrapping_add(layout.pc)).ok()?;
                Some((sp, pc))
            }),
            _ => None,
        };
        Ok(Step::Caller(Caller {
            cfa,
            entry,
            pc,
            sp: cfa,
            fp,
            g: None,
            interrupted,
        }))
    }

    /// On g0, the goroutine the system stack works for (`m.curg.sched`), as the runtime's
    /// traceback continues there; None when not on g0 or the chain does not hold.
    fn switch_stack(
        &self,
        mem: &dyn Memory,
        frame: &DebuggerFrame,
        g: &dyn Fn() -> Option<u64>,
        cfa: u64,
        entry: u64,
    ) -> Result<Option<Caller>> {
        let Some(off) = self.offsets else {
            return Ok(None);
        };
        let Some(g) = g() else {
            return Ok(None);
        };
        // The g register holds g0 once systemstack has switched; asmcgocall (an ABI0
        // function) leaves the goroutine's g there.
        if g == 0 {
            return Ok(None);
        }
        let mp = mem.read_ptr(g.wrapping_add(off.g.m))?;
        if mp == 0 {
            return Ok(None);
        }
        let g0 = mem.read_ptr(mp.wrapping_add(off.m.g0))?;
        let curg = mem.read_ptr(mp.wrapping_add(off.m.curg))?;
        if (g != g0 && g != curg) || curg == 0 || g0 == 0 {
            return Ok(None);
        }
        let lo = mem.read_ptr(g0.wrapping_add(off.g.stack_lo))?;
        let hi = mem.read_ptr(g0.wrapping_add(off.g.stack_hi))?;
        if !(lo..hi).contains(&frame.sp) && hi != 0 {
            return Ok(None);
        }
        let pc = mem.read_ptr(curg.wrapping_add(off.g.sched_pc))?;
        let sp = mem.read_ptr(curg.wrapping_add(off.g.sched_sp))?;
        let bp = mem.read_ptr(curg.wrapping_add(off.g.sched_bp))?;
        if pc == 0 || sp == 0 {
            return Ok(None);
        }
        // The saved pc is where the goroutine resumes, a return address into
        // systemstack_switch or the function morestack interrupted: looked up at pc - 1.
        Ok(Some(Caller {
            cfa,
            entry,
            pc,
            sp,
            fp: Some(bp),
            g: Some(curg),
            interrupted: None,
        }))
    }
}
