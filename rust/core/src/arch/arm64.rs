//! linux/arm64.

use super::{RegisterSet, Role, Trap};

/// `user_pt_regs`: x0–x30, sp, pc, pstate.
pub const REGISTERS: RegisterSet = RegisterSet {
    names: &[
        "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
        "x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26",
        "x27", "x28", "x29", "x30", "sp", "pc", "pstate",
    ],
    roles: &[
        (Role::Pc, 32),
        (Role::Sp, 31),
        (Role::Fp, 29),
        (Role::G, 28),
        (Role::Lr, 30),
    ],
    tls_name: "tpidr_el0",
};

pub const GDB_ARCH: &str = "aarch64";

/// `BRK #0`; the pc stays at it.
pub const TRAP: Trap = Trap {
    bytes: &[0x00, 0x00, 0x20, 0xd4],
    pc_after: false,
};
