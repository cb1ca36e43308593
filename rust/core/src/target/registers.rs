//! A thread's general-purpose registers, with the few that Go's runtime gives a meaning
//! (pc, sp, frame pointer, link register, the current g) under arch-neutral names.

use crate::binary::elf::Arch;

/// amd64 registers in the kernel's `user_regs_struct` order (NT_PRSTATUS `pr_reg`).
const AMD64_NAMES: [&str; 27] = [
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
    "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs",
    "gs",
];

/// arm64 registers in the kernel's `user_pt_regs` order.
const ARM64_NAMES: [&str; 34] = [
    "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
    "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27",
    "x28", "x29", "x30", "sp", "pc", "pstate",
];

const MAX_REGS: usize = 34;

/// General-purpose registers of one thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registers {
    arch: Arch,
    values: [u64; MAX_REGS],
    /// arm64 `tpidr_el0` (from NT_ARM_TLS), when known.
    tpidr_el0: Option<u64>,
}

impl Registers {
    /// All registers zero.
    pub fn new(arch: Arch) -> Registers {
        Registers {
            arch,
            values: [0; MAX_REGS],
            tpidr_el0: None,
        }
    }

    /// Registers from the kernel's register block: `user_regs_struct` on amd64 (27 values),
    /// `user_pt_regs` on arm64 (34 values). Missing values are zero, extra ones ignored.
    pub fn from_kernel_order(arch: Arch, values: &[u64]) -> Registers {
        let mut regs = Registers::new(arch);
        let n = Self::names(arch).len();
        for (dst, src) in regs.values.iter_mut().zip(values).take(n) {
            *dst = *src;
        }
        regs
    }

    /// Register names of `arch` in the kernel's order.
    pub fn names(arch: Arch) -> &'static [&'static str] {
        match arch {
            Arch::Amd64 => &AMD64_NAMES,
            Arch::Arm64 => &ARM64_NAMES,
        }
    }

    pub fn arch(&self) -> Arch {
        self.arch
    }

    fn index(&self, name: &str) -> Option<usize> {
        let name = match (self.arch, name) {
            (Arch::Arm64, "fp") => "x29",
            (Arch::Arm64, "lr") => "x30",
            (Arch::Amd64, "pc") => "rip",
            (Arch::Amd64, "sp") => "rsp",
            (Arch::Amd64, "fp") => "rbp",
            (_, n) => n,
        };
        Self::names(self.arch).iter().position(|&n| n == name)
    }

    /// A register by its name (as in [`Registers::names`], plus `pc`, `sp`, `fp`, and on
    /// arm64 `lr` and `tpidr_el0`).
    pub fn get(&self, name: &str) -> Option<u64> {
        if self.arch == Arch::Arm64 && name == "tpidr_el0" {
            return self.tpidr_el0;
        }
        self.values.get(self.index(name)?).copied()
    }

    /// Sets a register by name; returns false when `arch` has no register of that name.
    pub fn set(&mut self, name: &str, value: u64) -> bool {
        if self.arch == Arch::Arm64 && name == "tpidr_el0" {
            self.tpidr_el0 = Some(value);
            return true;
        }
        match self.index(name).and_then(|i| self.values.get_mut(i)) {
            Some(slot) => {
                *slot = value;
                true
            }
            None => false,
        }
    }

    fn at(&self, amd64: usize, arm64: usize) -> u64 {
        let i = match self.arch {
            Arch::Amd64 => amd64,
            Arch::Arm64 => arm64,
        };
        self.values.get(i).copied().unwrap_or(0)
    }

    /// Program counter: rip / pc.
    pub fn pc(&self) -> u64 {
        self.at(16, 32)
    }

    /// Stack pointer: rsp / sp.
    pub fn sp(&self) -> u64 {
        self.at(19, 31)
    }

    /// Frame pointer: rbp / x29.
    pub fn fp(&self) -> u64 {
        self.at(4, 29)
    }

    /// Link register: none on amd64 (the return address is on the stack), x30 on arm64.
    pub fn lr(&self) -> Option<u64> {
        match self.arch {
            Arch::Amd64 => None,
            Arch::Arm64 => Some(self.at(0, 30)),
        }
    }

    /// The register where Go's ABIInternal keeps the current goroutine's `g`: r14 on amd64,
    /// x28 on arm64. It holds `g` only while the thread runs Go code compiled for
    /// ABIInternal; in C code, signal handlers or assembly it may hold anything.
    pub fn g_register(&self) -> u64 {
        self.at(1, 28)
    }

    /// The thread pointer: fs_base on amd64, tpidr_el0 on arm64 (when the core has
    /// NT_ARM_TLS).
    pub fn tls_base(&self) -> Option<u64> {
        match self.arch {
            Arch::Amd64 => Some(self.at(21, 0)),
            Arch::Arm64 => self.tpidr_el0,
        }
    }

    pub(crate) fn set_tpidr_el0(&mut self, value: u64) {
        self.tpidr_el0 = Some(value);
    }

    /// Every register with its name, in the kernel's order, for display.
    pub fn named(&self) -> Vec<(&'static str, u64)> {
        let mut out: Vec<(&'static str, u64)> = Self::names(self.arch)
            .iter()
            .zip(self.values.iter())
            .map(|(&n, &v)| (n, v))
            .collect();
        if let Some(tls) = self.tpidr_el0 {
            out.push(("tpidr_el0", tls));
        }
        out
    }
}
