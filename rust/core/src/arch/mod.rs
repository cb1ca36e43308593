//! What differs between instruction sets, and nothing else: register sets in the kernel's
//! order, which register holds the pc, sp, frame pointer, link register and `g`, where a
//! signal frame keeps the interrupted pc and sp, the trap instruction, and the machine-code
//! patterns goscope recognises. Every other layer asks here; a new architecture is a new
//! file in this folder and a new arm in each match below.

use serde::Serialize;

pub mod amd64;
pub mod arm64;

/// The instruction sets goscope decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Amd64,
    Arm64,
}

/// A thread's general-purpose registers as the kernel dumps them (NT_PRSTATUS `pr_reg`),
/// and the index of each register Go's runtime gives a meaning.
#[derive(Debug)]
pub struct RegisterSet {
    /// Names in the kernel's order.
    pub names: &'static [&'static str],
    pub pc: usize,
    pub sp: usize,
    pub fp: usize,
    /// Where ABIInternal keeps the current goroutine's `g`.
    pub g: usize,
    /// The link register, on architectures whose calls leave the return address in one.
    pub lr: Option<usize>,
    /// The thread pointer, when it is part of the register block (amd64 `fs_base`; arm64
    /// keeps `tpidr_el0` in a note of its own).
    pub tls: Option<usize>,
    /// The thread pointer's name.
    pub tls_name: &'static str,
}

/// Where the kernel's signal frame keeps the interrupted context: offsets in `ucontext_t`,
/// and the size of `ucontext_t` (the `siginfo_t` follows it in the frame the runtime's
/// `sigtramp` receives).
#[derive(Debug)]
pub struct SignalContext {
    pub ucontext_size: u64,
    pub pc: u64,
    pub sp: u64,
}

/// GDB's names for the architecture and for the registers the unwinder reads and writes.
#[derive(Debug, Serialize)]
pub struct GdbNames {
    /// What `gdb.Architecture.name()` says.
    pub arch: &'static str,
    pub pc: &'static str,
    pub sp: &'static str,
    pub fp: &'static str,
    pub g: &'static str,
    pub lr: Option<&'static str>,
    pub tls: Option<&'static str>,
}

/// The breakpoint instruction `runtime.Breakpoint()` executes.
#[derive(Debug)]
pub struct Trap {
    pub bytes: &'static [u8],
    /// Whether the pc a stopped thread reports lies after the instruction (amd64's INT3)
    /// rather than at it (arm64's BRK).
    pub pc_after: bool,
}

/// One inlined `setGCPhase`: the variable it stores to, and the write barrier flag stored
/// after it (file addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcPhaseStore {
    pub target: u64,
    pub write_barrier: Option<u64>,
}

impl Arch {
    pub const ALL: [Arch; 2] = [Arch::Amd64, Arch::Arm64];

    /// GOARCH.
    pub fn go_name(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    pub fn registers(self) -> &'static RegisterSet {
        match self {
            Arch::Amd64 => &amd64::REGISTERS,
            Arch::Arm64 => &arm64::REGISTERS,
        }
    }

    /// The signal frame's layout, where goscope leaves signal handlers on this architecture.
    pub fn signal_context(self) -> Option<&'static SignalContext> {
        match self {
            Arch::Amd64 => Some(&amd64::SIGNAL_CONTEXT),
            Arch::Arm64 => None,
        }
    }

    pub fn gdb(self) -> &'static GdbNames {
        match self {
            Arch::Amd64 => &amd64::GDB,
            Arch::Arm64 => &arm64::GDB,
        }
    }

    /// The architecture GDB calls `name`.
    pub fn from_gdb_name(name: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.gdb().arch == name)
    }

    pub fn trap(self) -> &'static Trap {
        match self {
            Arch::Amd64 => &amd64::TRAP,
            Arch::Arm64 => &arm64::TRAP,
        }
    }

    /// Whether a call pushes the return address on the stack (amd64) rather than leaving it
    /// in the link register (arm64).
    pub fn return_address_on_stack(self) -> bool {
        self.registers().lr.is_none()
    }

    /// The inlined `setGCPhase` stores in `code` (at file address `base`), how a stripped
    /// binary's GC phase variable is found.
    pub fn gc_phase_stores(self, code: &[u8], base: u64) -> Vec<GcPhaseStore> {
        match self {
            Arch::Amd64 => amd64::gc_phase_stores(code, base),
            Arch::Arm64 => Vec::new(),
        }
    }
}
