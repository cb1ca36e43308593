//! A thread's general-purpose registers, with the few that Go's runtime gives a meaning
//! (pc, sp, frame pointer, link register, the current g) under arch-neutral names.

use crate::arch::{Arch, Role};

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
        arch.registers().names
    }

    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// Whether `name` is the thread pointer kept outside the register block.
    fn is_tls_note(&self, name: &str) -> bool {
        let set = self.arch.registers();
        set.index(Role::Tls).is_none() && name == set.tls_name
    }

    fn index(&self, name: &str) -> Option<usize> {
        let set = self.arch.registers();
        match name {
            "pc" => set.index(Role::Pc),
            "sp" => set.index(Role::Sp),
            "fp" => set.index(Role::Fp),
            "lr" => set.index(Role::Lr),
            _ => set.names.iter().position(|&n| n == name),
        }
    }

    /// A register by its name (as in [`Registers::names`], plus `pc`, `sp`, `fp`, and on
    /// arm64 `lr` and `tpidr_el0`).
    pub fn get(&self, name: &str) -> Option<u64> {
        if self.is_tls_note(name) {
            return self.tpidr_el0;
        }
        self.values.get(self.index(name)?).copied()
    }

    /// Sets a register by name; returns false when `arch` has no register of that name.
    pub fn set(&mut self, name: &str, value: u64) -> bool {
        if self.is_tls_note(name) {
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

    fn at(&self, i: usize) -> u64 {
        self.values.get(i).copied().unwrap_or(0)
    }

    fn role(&self, role: Role) -> Option<u64> {
        self.arch.registers().index(role).map(|i| self.at(i))
    }

    pub fn pc(&self) -> u64 {
        self.role(Role::Pc).unwrap_or(0)
    }

    pub fn sp(&self) -> u64 {
        self.role(Role::Sp).unwrap_or(0)
    }

    pub fn fp(&self) -> u64 {
        self.role(Role::Fp).unwrap_or(0)
    }

    /// The link register, on architectures that have one (the return address of a call).
    pub fn lr(&self) -> Option<u64> {
        self.role(Role::Lr)
    }

    /// The register where Go's ABIInternal keeps the current goroutine's `g`. It holds `g`
    /// only while the thread runs Go code compiled for ABIInternal; in C code, signal
    /// handlers or assembly it may hold anything.
    pub fn g_register(&self) -> u64 {
        self.role(Role::G).unwrap_or(0)
    }

    /// The thread pointer: from the register block where it is part of it, else from the
    /// core's own note for it (arm64 NT_ARM_TLS), when there is one.
    pub fn tls_base(&self) -> Option<u64> {
        self.role(Role::Tls).or(self.tpidr_el0)
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
            out.push((self.arch.registers().tls_name, tls));
        }
        out
    }
}
