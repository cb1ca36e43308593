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

/// A register Go's runtime gives a meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Pc,
    Sp,
    Fp,
    /// Where ABIInternal keeps the current goroutine's `g`.
    G,
    /// The link register, on architectures whose calls leave the return address in one.
    Lr,
    /// The thread pointer, when it is part of the register block (amd64 `fs_base`; arm64
    /// keeps `tpidr_el0` in a note of its own).
    Tls,
}

/// A thread's general-purpose registers as the kernel dumps them (NT_PRSTATUS `pr_reg`),
/// and which of them have a role.
#[derive(Debug)]
pub struct RegisterSet {
    /// Names in the kernel's order (GDB's names too).
    pub names: &'static [&'static str],
    /// The index in `names` of each register with a role.
    pub roles: &'static [(Role, usize)],
    /// The thread pointer's name, in the register block or not.
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

impl RegisterSet {
    /// The name of register `i` of the kernel's order.
    pub fn name(&self, i: usize) -> Option<&'static str> {
        self.names.get(i).copied()
    }

    /// The index of the register with `role`, when the architecture has one.
    pub fn index(&self, role: Role) -> Option<usize> {
        self.roles
            .iter()
            .find(|&&(r, _)| r == role)
            .map(|&(_, i)| i)
    }

    /// The name of the register with `role`.
    pub fn role_name(&self, role: Role) -> Option<&'static str> {
        self.index(role).and_then(|i| self.name(i))
    }
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

    /// What GDB calls the architecture (`gdb.Architecture.name()`); GDB names registers as
    /// the kernel does.
    pub fn gdb_name(self) -> &'static str {
        match self {
            Arch::Amd64 => amd64::GDB_ARCH,
            Arch::Arm64 => arm64::GDB_ARCH,
        }
    }

    /// The architecture GDB calls `name`.
    pub fn from_gdb_name(name: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.gdb_name() == name)
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
        self.registers().index(Role::Lr).is_none()
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
