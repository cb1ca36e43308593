//! What GDB's Go frame unwinder asks of a binary: per pc, the function, its frame size and
//! the core unwinder's rule for its frames (from pclntab, so stripped binaries unwind too);
//! per binary, the offsets of the runtime fields that lead from a thread's g to the goroutine
//! a system stack serves.

use std::collections::BTreeMap;

use goscope_core::layout::RuntimeLayout;
use goscope_core::runtime::unwind::frame_rule;
use pyo3::prelude::*;

use crate::binary::PyBinary;
use crate::errors::{guard, BindingError};

/// `(name, entry, end, sp_delta, rule, writes_sp)` of the function containing a static pc:
/// `sp_delta` is -1 where the pcsp table has no value; `rule` is how the unwinder treats its
/// frames (`FrameRule::name`) and `writes_sp` whether unwinding stops past it.
type FrameFacts = (String, u64, u64, i64, &'static str, bool);

/// The function containing static (unrelocated) `pc` and the facts an unwinder needs about
/// it there, or None when `pc` is not in Go code of this binary.
#[pyfunction]
pub(crate) fn frame_facts(
    py: Python<'_>,
    binary: &PyBinary,
    pc: u64,
) -> Result<Option<FrameFacts>, BindingError> {
    let inner = binary.shared();
    py.detach(|| {
        guard("looking up a frame", || {
            let tab = inner.pclntab();
            Ok(tab.find(pc).map(|f| {
                let delta = f.sp_delta(pc).map_or(-1, i64::from);
                let (rule, writes_sp) = frame_rule(&f);
                (
                    f.name().to_owned(),
                    f.entry(),
                    f.end(),
                    delta,
                    rule.name(),
                    writes_sp,
                )
            }))
        })
    })
}

/// Runtime fields the unwinder reads, as `"type.field": offset`: `runtime.g` (`m`, `stack.lo`,
/// `stack.hi`, `sched.pc`, `sched.sp`, `sched.bp`) and `runtime.m` (`g0`, `curg`,
/// `gsignal`). Fields the layout lacks are left out.
#[pyfunction]
pub(crate) fn unwind_offsets(
    py: Python<'_>,
    binary: &PyBinary,
) -> Result<BTreeMap<String, u64>, BindingError> {
    let inner = binary.shared();
    py.detach(|| {
        guard("reading the runtime's struct layouts", || {
            let layout = RuntimeLayout::for_binary(inner.image(), inner.go_version())?;
            let wanted = [
                ("runtime.g", "m"),
                ("runtime.g", "stack.lo"),
                ("runtime.g", "stack.hi"),
                ("runtime.g", "sched.pc"),
                ("runtime.g", "sched.sp"),
                ("runtime.g", "sched.bp"),
                ("runtime.g", "goid"),
                ("runtime.m", "g0"),
                ("runtime.m", "curg"),
                ("runtime.m", "gsignal"),
            ];
            Ok(wanted
                .iter()
                .filter_map(|&(ty, field)| {
                    let offset = layout.offset(ty, field).ok()?;
                    Some((format!("{ty}.{field}"), offset))
                })
                .collect())
        })
    })
}

/// A debug file for a stripped binary, made from its pclntab: DWARF subprograms and a line
/// table (see `goscope_core::binary::symfile`), as bytes; None when one cannot be made.
#[pyfunction]
pub(crate) fn symbol_file(
    py: Python<'_>,
    binary: &PyBinary,
) -> Result<Option<std::borrow::Cow<'static, [u8]>>, BindingError> {
    let inner = binary.shared();
    py.detach(|| {
        guard("making a debug file from pclntab", || {
            Ok(goscope_core::binary::symfile::symbol_file(&inner).map(std::borrow::Cow::Owned))
        })
    })
}
