//! linux/amd64.

use super::{GcPhaseStore, RegisterSet, Role, SignalContext, Trap};

/// `user_regs_struct`.
pub const REGISTERS: RegisterSet = RegisterSet {
    names: &[
        "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx",
        "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds",
        "es", "fs", "gs",
    ],
    roles: &[
        (Role::Pc, 16),
        (Role::Sp, 19),
        (Role::Fp, 4),
        (Role::G, 1),
        (Role::Tls, 21),
    ],
    tls_name: "fs_base",
};

/// `ucontext_t`: `uc_mcontext` (a `struct sigcontext`) starts at 40; in it rsp is at 120 and
/// rip at 128.
pub const SIGNAL_CONTEXT: SignalContext = SignalContext {
    ucontext_size: 304,
    pc: 40 + 128,
    sp: 40 + 120,
};

pub const GDB_ARCH: &str = "i386:x86-64";

/// INT3; the thread stops with the pc after it.
pub const TRAP: Trap = Trap {
    bytes: &[0xcc],
    pc_after: true,
};

/// A RIP-relative memory operand at `code[i..]` (ModRM with mod 00 and r/m 101): the reg
/// field and the target, given that the instruction ends `tail` bytes after the
/// displacement.
fn rip_operand(code: &[u8], i: usize, base: u64, tail: usize) -> Option<(u8, u64)> {
    let modrm = *code.get(i)?;
    if modrm & 0xc7 != 0x05 {
        return None;
    }
    let disp = i32::from_le_bytes(code.get(i..)?.get(1..5)?.try_into().ok()?);
    let end = i.checked_add(5)?.checked_add(tail)?;
    let next = base.checked_add(end as u64)?;
    Some(((modrm >> 3) & 7, next.wrapping_add_signed(i64::from(disp))))
}

/// An optional REX prefix at `code[i]`: its bits and the index after it.
fn rex(code: &[u8], i: usize) -> (u8, usize) {
    match code.get(i) {
        Some(&b) if (0x40..=0x4f).contains(&b) => (b, i.saturating_add(1)),
        _ => (0, i),
    }
}

/// Finds `LEAQ T(RIP), R; XCHGL E, (R); MOVL T(RIP), E'` in `code` (at address `base`): an
/// atomic store to the 4-byte variable T and a load of it, which is how `setGCPhase` compiles.
pub fn gc_phase_stores(code: &[u8], base: u64) -> Vec<GcPhaseStore> {
    let mut out = Vec::new();
    for start in 0..code.len() {
        let (rex1, i) = rex(code, start);
        if rex1 & 0x08 == 0 || code.get(i) != Some(&0x8d) {
            continue;
        }
        // The indices below stay within a few bytes past `code.len()`, far from overflowing.
        let Some((reg, target)) = rip_operand(code, i.saturating_add(1), base, 0) else {
            continue;
        };
        let reg = reg | if rex1 & 0x04 != 0 { 8 } else { 0 };
        // XCHGL E, (R): opcode 0x87, ModRM mod 00 with R as the base register.
        let (rex2, j) = rex(code, i.saturating_add(6));
        let Some(&modrm) = code.get(j.saturating_add(1)) else {
            continue;
        };
        let rm = (modrm & 7) | if rex2 & 0x01 != 0 { 8 } else { 0 };
        if code.get(j) != Some(&0x87)
            || modrm >> 6 != 0
            || rm != reg
            || modrm & 7 == 4
            || modrm & 7 == 5
        {
            continue;
        }
        // MOVL T(RIP), E'.
        let (_, k) = rex(code, j.saturating_add(2));
        if code.get(k) != Some(&0x8b) {
            continue;
        }
        if rip_operand(code, k.saturating_add(1), base, 0).map(|(_, t)| t) != Some(target) {
            continue;
        }
        // The next byte store to a RIP-relative address (MOVB r8, W(RIP)) sets the flag.
        let after = k.saturating_add(6);
        let write_barrier = (after..after.saturating_add(48).min(code.len())).find_map(|at| {
            let (_, m) = rex(code, at);
            (code.get(m) == Some(&0x88))
                .then(|| rip_operand(code, m.saturating_add(1), base, 0).map(|(_, w)| w))
                .flatten()
        });
        out.push(GcPhaseStore {
            target,
            write_barrier,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes go1.26's gcStart holds for its inlined setGCPhase(_GCmark).
    const SET_GC_PHASE: &[u8] = &[
        0xb9, 0x01, 0x00, 0x00, 0x00, // mov $1, %ecx
        0x48, 0x8d, 0x15, 0xb9, 0x78, 0x24, 0x00, // lea 0x2478b9(%rip), %rdx
        0x87, 0x0a, // xchg %ecx, (%rdx)
        0x8b, 0x0d, 0xb1, 0x78, 0x24, 0x00, // mov 0x2478b1(%rip), %ecx
        0x83, 0xf9, 0x01, // cmp $1, %ecx
        0x75, 0x07, // jne
        0xb9, 0x01, 0x00, 0x00, 0x00, // mov $1, %ecx
        0xeb, 0x06, // jmp
        0x83, 0xf9, 0x02, // cmp $2, %ecx
        0x0f, 0x94, 0xc1, // sete %cl
        0x88, 0x0d, 0xd1, 0x7b, 0x24, 0x00, // mov %cl, 0x247bd1(%rip)
    ];

    #[test]
    fn finds_the_inlined_set_gc_phase() {
        let stores = gc_phase_stores(SET_GC_PHASE, 0x429d73);
        assert_eq!(
            stores,
            vec![GcPhaseStore {
                target: 0x671638,
                write_barrier: Some(0x671970),
            }]
        );
    }

    #[test]
    fn a_store_without_the_reload_is_not_set_gc_phase() {
        let mut code = SET_GC_PHASE.to_vec();
        // Another variable reloaded: not the same target.
        if let Some(b) = code.get_mut(16) {
            *b = 0xb5;
        }
        assert!(gc_phase_stores(&code, 0x429d73).is_empty());
        // Cut anywhere: no panic, nothing found past the cut.
        for n in 0..SET_GC_PHASE.len() {
            let found = gc_phase_stores(SET_GC_PHASE.get(..n).unwrap_or(&[]), 0x1000);
            assert!(found.len() <= 1);
        }
    }
}
