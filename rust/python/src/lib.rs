//! `goscope._native`: the Python binding of goscope-core.
//!
//! This crate only converts types, maps errors and releases the GIL around work done by the
//! core; everything that understands Go lives in `goscope-core`.

mod binary;
mod errors;
mod machine;
mod target;
mod unwind;

use pyo3::prelude::*;

/// The compiled half of the `goscope` package. Import `goscope` instead of this module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::install_panic_hook();
    errors::register(m)?;
    m.add_class::<binary::PyBinary>()?;
    m.add_class::<target::PyTarget>()?;
    m.add_class::<machine::PyMachine>()?;
    m.add_class::<unwind::PyFrameUnwinder>()?;
    m.add_function(wrap_pyfunction!(binary::check_input, m)?)?;
    m.add_function(wrap_pyfunction!(machine::machine, m)?)?;
    m.add_function(wrap_pyfunction!(unwind::symbol_file, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The limits' default and the built-in caps that 0 ("unlimited") stands for.
    m.add(
        "DEFAULT_MAX_FRAMES",
        goscope_core::runtime::DEFAULT_MAX_FRAMES,
    )?;
    m.add("MAX_FRAMES_CAP", goscope_core::runtime::MAX_FRAMES_CAP)?;
    m.add("MAX_GOROUTINES", goscope_core::runtime::MAX_GOROUTINES)?;
    Ok(())
}
