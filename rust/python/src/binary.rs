//! `goscope.Binary`: a Go executable opened by the core.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::Arc;

use goscope_core::Binary;
use goscope_core::Location;
use pyo3::prelude::*;

use crate::errors::{guard, BindingError};

/// `(function, file, line)` as Python sees a source position.
type PyLocation = (String, String, i64);

fn to_py_location(location: Location<'_>) -> PyLocation {
    (
        location.function.to_string(),
        location.file.to_string(),
        i64::from(location.line),
    )
}

/// A Go executable: its build information, functions and pc-to-line tables, read from
/// `.gopclntab` and `.go.buildinfo` without needing DWARF or a symbol table.
#[pyclass(name = "Binary", module = "goscope", frozen)]
pub(crate) struct PyBinary {
    inner: Arc<Binary>,
}

impl PyBinary {
    /// The opened binary, shared with targets built on it.
    pub(crate) fn shared(&self) -> Arc<Binary> {
        Arc::clone(&self.inner)
    }
}

#[pymethods]
impl PyBinary {
    /// Opens and validates the Go executable at `path`.
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> Result<Self, BindingError> {
        let inner = py.detach(|| guard("opening the binary", || Ok(Binary::open(&path)?)))?;
        Ok(PyBinary {
            inner: Arc::new(inner),
        })
    }

    /// The path the binary was opened from.
    #[getter]
    fn path(&self) -> &OsStr {
        self.inner.path().as_os_str()
    }

    /// Build and layout facts about the binary, as a JSON object.
    fn info_json(&self, py: Python<'_>) -> Result<String, BindingError> {
        let inner = &self.inner;
        py.detach(|| {
            guard("reading the binary's build information", || {
                serde_json::to_string(&inner.info()).map_err(|err| BindingError::Internal {
                    during: "encoding the build information as JSON",
                    message: err.to_string(),
                })
            })
        })
    }

    /// The physical function and raw `file:line` at `pc` (what `go tool addr2line` prints),
    /// or `None` if no function contains `pc`.
    fn pc_line(&self, py: Python<'_>, pc: u64) -> Result<Option<PyLocation>, BindingError> {
        let inner = &self.inner;
        py.detach(|| {
            guard("looking up a pc", || {
                Ok(inner.pc_line(pc).map(to_py_location))
            })
        })
    }

    /// Every frame at `pc`, innermost first, including inlined calls; empty if no function
    /// contains `pc`.
    fn lookup(&self, py: Python<'_>, pc: u64) -> Result<Vec<PyLocation>, BindingError> {
        let inner = &self.inner;
        py.detach(|| {
            guard("looking up the frames at a pc", || {
                Ok(inner.lookup(pc).into_iter().map(to_py_location).collect())
            })
        })
    }

    /// Every function as `(name, entry, end)`.
    fn functions(&self, py: Python<'_>) -> Result<Vec<(String, u64, u64)>, BindingError> {
        let inner = &self.inner;
        py.detach(|| {
            guard("listing functions", || {
                Ok(inner
                    .functions()
                    .map(|(name, entry, end)| (name.to_owned(), entry, end))
                    .collect())
            })
        })
    }

    /// `(entry, end)` of the function called `name`, or `None`.
    fn function(&self, py: Python<'_>, name: &str) -> Result<Option<(u64, u64)>, BindingError> {
        let inner = &self.inner;
        let name = name.to_owned();
        py.detach(|| guard("looking up a function", || Ok(inner.function(&name))))
    }

    /// Start of every pc range whose innermost position is `file:line`, inlined copies
    /// included. `file` may be a full path or a path suffix.
    fn pcs_for_line(
        &self,
        py: Python<'_>,
        file: &str,
        line: u32,
    ) -> Result<Vec<u64>, BindingError> {
        let inner = &self.inner;
        let file = file.to_owned();
        py.detach(|| {
            guard("looking up the pcs of a line", || {
                Ok(inner.pcs_for_line(&file, line))
            })
        })
    }

    /// Where the body of the function containing `pc` starts: past the stack check, the
    /// frame setup and what else is on the function's first line. `None` if no function
    /// contains `pc`.
    fn body_start(&self, py: Python<'_>, pc: u64) -> Result<Option<u64>, BindingError> {
        let inner = &self.inner;
        py.detach(|| guard("finding a function's body", || Ok(inner.body_start(pc))))
    }

    /// The first pc of every copy of the function `name` inlined into another function.
    fn inlined_copies(&self, py: Python<'_>, name: &str) -> Result<Vec<u64>, BindingError> {
        let inner = &self.inner;
        let name = name.to_owned();
        py.detach(|| {
            guard("finding inlined copies of a function", || {
                Ok(inner.inlined_copies(&name))
            })
        })
    }

    fn __repr__(&self) -> String {
        format!("<goscope.Binary {:?}>", self.inner.path())
    }
}

/// Raises `goscope.TargetIOError` with one line when `path` cannot be read as a `what`
/// ("core file", "binary"): missing, a symlink loop, a directory, a FIFO, a device or a socket.
/// Checked before anything opens the file: opening a FIFO would wait for a writer.
#[pyfunction]
pub(crate) fn check_input(path: std::path::PathBuf, what: &str) -> Result<(), BindingError> {
    guard(
        "checking an input file",
        || match goscope_core::binary::file::input_problem(&path, what) {
            Some(problem) => Err(problem.into()),
            None => Ok(()),
        },
    )
}
