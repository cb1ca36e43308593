//! What GDB's Go frame unwinder asks of a binary: per frame, its caller by the core's rules
//! (from pclntab, so stripped binaries unwind too), and a debug file made from pclntab.

use std::sync::Arc;

use goscope_core::layout::RuntimeLayout;
use goscope_core::runtime::step::{DebuggerCode, DebuggerFrame, Step};
use goscope_core::runtime::Offsets;
use goscope_core::Binary;
use pyo3::prelude::*;

use crate::binary::PyBinary;
use crate::errors::{guard, BindingError};
use crate::target::callback_memory;

/// What GDB's Go frame unwinder asks of one executable, loaded at `bias`: each frame's
/// caller by the core's rules (`goscope_core::runtime::step`).
#[pyclass(name = "FrameUnwinder", module = "goscope", frozen)]
pub(crate) struct PyFrameUnwinder {
    binary: Arc<Binary>,
    bias: u64,
    cfi: bool,
    offsets: Option<Offsets>,
}

/// `(kind, cfa, entry, pc, sp, fp, g, interrupted)`: `kind` is `"not-go"`, `"theirs"`,
/// `"outermost"` (`cfa` and `entry` set) or `"caller"`; `fp` None when unchanged, `g` set
/// when the caller is on another g's stack, `interrupted` the (sp, pc) of a frame further out
/// whose pc is an interrupted instruction.
type PyStep = (
    &'static str,
    u64,
    u64,
    u64,
    u64,
    Option<u64>,
    Option<u64>,
    Option<(u64, u64)>,
);

impl PyFrameUnwinder {
    fn code(&self) -> DebuggerCode<'_> {
        DebuggerCode {
            tab: self.binary.pclntab(),
            bias: self.bias,
            arch: self.binary.image().arch,
            cfi: self.cfi,
            offsets: self.offsets.as_ref(),
        }
    }
}

#[pymethods]
impl PyFrameUnwinder {
    /// `binary` loaded at `bias`; `cfi`: GDB has DWARF call frame information for its
    /// ordinary frames.
    #[new]
    fn new(py: Python<'_>, binary: &PyBinary, bias: u64, cfi: bool) -> Result<Self, BindingError> {
        let binary = binary.shared();
        let offsets = py.detach(|| {
            guard("reading the runtime's struct layouts", || {
                let layout = RuntimeLayout::for_binary(binary.image(), binary.go_version())?;
                // Without the runtime's layout, frames are still unwound; only system
                // stacks are not followed to their goroutine.
                Ok(
                    Offsets::resolve(&|t, f| layout.offset(t, f).ok(), &|t| layout.size(t).ok())
                        .ok(),
                )
            })
        })?;
        Ok(PyFrameUnwinder {
            binary,
            bias,
            cfi,
            offsets,
        })
    }

    /// `runtime.g`'s saved sp and frame pointer offsets (`sched.sp`, `sched.bp`), when known.
    #[getter]
    fn saved_context(&self) -> Option<(u64, u64)> {
        self.offsets.as_ref().map(|o| (o.g.sched_sp, o.g.sched_bp))
    }

    /// The static pc at which to look up the function and line of a frame at static `pc`
    /// (see `DebuggerCode::lookup_pc`).
    fn lookup_pc(&self, py: Python<'_>, pc: u64, interrupted: bool) -> Result<u64, BindingError> {
        py.detach(|| {
            guard("looking up a frame", || {
                Ok(self.code().lookup_pc(pc, interrupted))
            })
        })
    }

    /// The caller of the frame with these registers; its g register through `g() -> int |
    /// None`, memory through `read_memory(addr, len) -> bytes`.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (pc, sp, g, innermost, interrupted, lifted, read_memory))]
    fn step(
        &self,
        pc: u64,
        sp: u64,
        g: Py<PyAny>,
        innermost: bool,
        interrupted: bool,
        lifted: bool,
        read_memory: Py<PyAny>,
    ) -> Result<PyStep, BindingError> {
        let memory = callback_memory(read_memory);
        let frame = DebuggerFrame {
            pc,
            sp,
            innermost,
            interrupted,
            lifted,
        };
        // The reader enters GDB's Python API: this runs on GDB's thread, holding the GIL.
        guard("unwinding a frame", || {
            // Whatever the reader raises means the register is not known.
            let g = || Python::attach(|py| g.call0(py).ok()?.extract::<Option<u64>>(py).ok()?);
            Ok(match self.code().step(&memory, &frame, &g)? {
                Step::NotGo => ("not-go", 0, 0, 0, 0, None, None, None),
                Step::Theirs => ("theirs", 0, 0, 0, 0, None, None, None),
                Step::Outermost { cfa, entry } => ("outermost", cfa, entry, 0, 0, None, None, None),
                Step::Caller(c) => (
                    "caller",
                    c.cfa,
                    c.entry,
                    c.pc,
                    c.sp,
                    c.fp,
                    c.g,
                    c.interrupted,
                ),
            })
        })
    }
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
