//! What the GDB side needs to know about an architecture, from the core's `arch` layer: the
//! registers it reads and writes, the signal frame's layout and the trap instruction.

use goscope_core::arch::{Arch, Role};
use pyo3::prelude::*;

/// The registers, signal frame and trap instruction of one architecture, named as GDB names
/// them.
#[pyclass(name = "Machine", module = "goscope", frozen, get_all)]
pub(crate) struct PyMachine {
    /// GOARCH.
    go_arch: &'static str,
    /// What `gdb.Architecture.name()` says.
    gdb_arch: &'static str,
    pc: &'static str,
    sp: &'static str,
    fp: &'static str,
    /// The register ABIInternal keeps `g` in.
    g: &'static str,
    /// The link register, where calls leave the return address in one.
    lr: Option<&'static str>,
    /// The thread pointer, where GDB shows it as a register.
    tls: Option<&'static str>,
    /// Every register the runtime decoder reads from a thread.
    thread_registers: Vec<&'static str>,
    /// Offsets of the interrupted pc and sp in the kernel's `ucontext_t`, where known.
    signal_pc: Option<u64>,
    signal_sp: Option<u64>,
    /// The size of `ucontext_t`, which the `siginfo_t` follows in the signal frame.
    ucontext_size: Option<u64>,
    /// The breakpoint instruction, and whether a stopped thread's pc lies after it.
    trap: Vec<u8>,
    pc_after_trap: bool,
    /// Whether calls push the return address (rather than leave it in `lr`).
    return_address_on_stack: bool,
}

/// The architecture GDB calls `gdb_arch`, or None when goscope does not decode it.
#[pyfunction]
pub(crate) fn machine(gdb_arch: &str) -> Option<PyMachine> {
    let arch = Arch::from_gdb_name(gdb_arch)?;
    let set = arch.registers();
    let signal = arch.signal_context();
    let trap = arch.trap();
    let lr = set.role_name(Role::Lr);
    let tls = set.role_name(Role::Tls);
    let [pc, sp, fp, g] = [Role::Pc, Role::Sp, Role::Fp, Role::G]
        .map(|r| set.role_name(r))
        .map(|name| name.unwrap_or("?"));
    let thread_registers = [pc, sp, fp, g].into_iter().chain(lr).chain(tls).collect();
    Some(PyMachine {
        go_arch: arch.go_name(),
        gdb_arch: arch.gdb_name(),
        pc,
        sp,
        fp,
        g,
        lr,
        tls,
        thread_registers,
        signal_pc: signal.map(|s| s.pc),
        signal_sp: signal.map(|s| s.sp),
        ucontext_size: signal.map(|s| s.ucontext_size),
        trap: trap.bytes.to_vec(),
        pc_after_trap: trap.pc_after,
        return_address_on_stack: arch.return_address_on_stack(),
    })
}
