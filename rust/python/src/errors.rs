//! The Python exception hierarchy and the mapping of core errors onto it.
//!
//! Every error the binding raises is a `goscope.GoscopeError`. Core errors are mapped by their
//! [`ErrorKind`]; a panic inside the core is caught at the boundary and raised as
//! `goscope.InternalError`, so that a malformed input can never take the debugger down.
//!
//! `GOSCOPE_TEST_PANIC=TEXT` makes every guarded call whose description contains TEXT (every
//! one for `*`) panic inside its guard, so that the tests can show what a user would see of a
//! panic at each entry point, in the command line and in GDB.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use goscope_core::{Error as CoreError, ErrorKind};
use pyo3::exceptions::{PyException, PyOSError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

pyo3::create_exception!(
    goscope,
    GoscopeError,
    PyException,
    "Base class of every error goscope raises."
);
pyo3::create_exception!(
    goscope,
    NotElfError,
    GoscopeError,
    "The file is not an ELF file."
);
pyo3::create_exception!(
    goscope,
    NotGoBinaryError,
    GoscopeError,
    "The file is an ELF file but was not built by the Go toolchain."
);
pyo3::create_exception!(
    goscope,
    TruncatedError,
    GoscopeError,
    "The file ends before data that its own headers say is there."
);
pyo3::create_exception!(
    goscope,
    CorruptError,
    GoscopeError,
    "The file's Go metadata (pclntab, build info, ...) is malformed."
);
pyo3::create_exception!(
    goscope,
    UnsupportedError,
    GoscopeError,
    "The target is valid but uses something goscope does not support."
);
pyo3::create_exception!(
    goscope,
    UnsupportedArchError,
    UnsupportedError,
    "The target is for a CPU architecture goscope does not support."
);
pyo3::create_exception!(
    goscope,
    UnreadableMemoryError,
    GoscopeError,
    "Target memory that is not in the core file or cannot be read from the process."
);
pyo3::create_exception!(
    goscope,
    InternalError,
    GoscopeError,
    "goscope itself failed (a bug); the message says where."
);

/// `TargetIOError(GoscopeError, OSError)`, created at import because it has two bases.
static TARGET_IO_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

const TARGET_IO_ERROR_DOC: &str =
    "Reading the target (file, core or process memory) failed at the operating-system level.";

fn target_io_error(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    TARGET_IO_ERROR
        .get_or_try_init(py, || {
            let bases = PyTuple::new(
                py,
                [py.get_type::<GoscopeError>(), py.get_type::<PyOSError>()],
            )?;
            let namespace = PyDict::new(py);
            namespace.set_item("__module__", "goscope")?;
            namespace.set_item("__doc__", TARGET_IO_ERROR_DOC)?;
            let created = py
                .get_type::<PyType>()
                .call1(("TargetIOError", bases, namespace))?;
            Ok::<_, PyErr>(created.cast_into::<PyType>()?.unbind())
        })
        .map(|ty| ty.bind(py))
}

/// Adds the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("GoscopeError", py.get_type::<GoscopeError>())?;
    m.add("NotElfError", py.get_type::<NotElfError>())?;
    m.add("NotGoBinaryError", py.get_type::<NotGoBinaryError>())?;
    m.add("TruncatedError", py.get_type::<TruncatedError>())?;
    m.add("CorruptError", py.get_type::<CorruptError>())?;
    m.add("UnsupportedError", py.get_type::<UnsupportedError>())?;
    m.add(
        "UnsupportedArchError",
        py.get_type::<UnsupportedArchError>(),
    )?;
    m.add(
        "UnreadableMemoryError",
        py.get_type::<UnreadableMemoryError>(),
    )?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    m.add("TargetIOError", target_io_error(py)?)?;
    Ok(())
}

/// Everything that can go wrong in a call into the core.
#[derive(Debug)]
pub(crate) enum BindingError {
    /// The core reported a problem with the target.
    Core(CoreError),
    /// The core panicked; `during` says what the binding asked it to do.
    Panic {
        during: &'static str,
        message: String,
    },
    /// The binding itself failed to convert a result.
    Internal {
        during: &'static str,
        message: String,
    },
}

impl From<CoreError> for BindingError {
    fn from(error: CoreError) -> Self {
        BindingError::Core(error)
    }
}

impl From<BindingError> for PyErr {
    fn from(error: BindingError) -> PyErr {
        match error {
            BindingError::Core(error) => core_error_to_py(&error),
            BindingError::Panic { during, message } => InternalError::new_err(format!(
                "internal error while {during}: {message} (this is a goscope bug; please report it)"
            )),
            BindingError::Internal { during, message } => InternalError::new_err(format!(
                "internal error while {during}: {message} (this is a goscope bug; please report it)"
            )),
        }
    }
}

/// Maps a core error onto the exception class of its kind; the message is the core's one line.
fn core_error_to_py(error: &CoreError) -> PyErr {
    let message = error.to_string();
    match error.kind() {
        ErrorKind::Io => Python::attach(|py| match target_io_error(py) {
            Ok(ty) => PyErr::from_type(ty.clone(), message),
            Err(err) => err,
        }),
        ErrorKind::NotElf => NotElfError::new_err(message),
        ErrorKind::UnsupportedArch => UnsupportedArchError::new_err(message),
        ErrorKind::NotGo => NotGoBinaryError::new_err(message),
        ErrorKind::Truncated => TruncatedError::new_err(message),
        ErrorKind::Corrupt => CorruptError::new_err(message),
        ErrorKind::Unsupported => UnsupportedError::new_err(message),
        ErrorKind::Unreadable => UnreadableMemoryError::new_err(message),
    }
}

thread_local! {
    /// The message and location of the last panic on this thread, left by the panic hook.
    static LAST_PANIC: Cell<Option<String>> = const { Cell::new(None) };
}

/// Replaces the panic hook of this library's copy of std: instead of printing to the
/// debugger's terminal, a panic's message is kept for [`guard`] to put into the exception.
/// Set `GOSCOPE_RUST_PANIC=1` to also get Rust's usual panic report on stderr.
pub(crate) fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        let report = std::env::var_os("GOSCOPE_RUST_PANIC").is_some();
        panic::set_hook(Box::new(move |info| {
            let message = payload_message(info.payload());
            let text = match info.location() {
                Some(at) => format!("{message} at {}:{}", at.file(), at.line()),
                None => message,
            };
            LAST_PANIC.with(|slot| slot.set(Some(text)));
            if report {
                previous(info);
            }
        }));
    });
}

fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// The environment variable that injects a panic into guarded calls (see the module's
/// description); read at every call, so that a test can change it in-process.
const TEST_PANIC: &str = "GOSCOPE_TEST_PANIC";

/// Panics when [`TEST_PANIC`] asks for a panic in a call described as `during`.
fn injected_panic(during: &str) {
    let Some(wanted) = std::env::var_os(TEST_PANIC) else {
        return;
    };
    let wanted = wanted.to_string_lossy();
    if !wanted.is_empty() && (wanted == "*" || during.contains(wanted.as_ref())) {
        panic!("a panic injected by {TEST_PANIC}");
    }
}

/// Runs `work`, turning a panic into [`BindingError::Panic`] that says what was being done.
pub(crate) fn guard<T>(
    during: &'static str,
    work: impl FnOnce() -> Result<T, BindingError>,
) -> Result<T, BindingError> {
    let work = move || {
        injected_panic(during);
        work()
    };
    match panic::catch_unwind(AssertUnwindSafe(work)) {
        Ok(result) => result,
        Err(payload) => {
            let message = LAST_PANIC
                .with(Cell::take)
                .unwrap_or_else(|| payload_message(payload.as_ref()));
            Err(BindingError::Panic { during, message })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_turns_a_panic_into_an_error_with_its_message_and_place() {
        install_panic_hook();
        let result: Result<(), BindingError> = guard("testing", || panic!("boom {}", 42));
        match result {
            Err(BindingError::Panic { during, message }) => {
                assert_eq!(during, "testing");
                assert!(message.starts_with("boom 42 at "), "{message}");
                assert!(message.contains("errors.rs"), "{message}");
            }
            other => panic!("expected a panic error, got {other:?}"),
        }
    }

    #[test]
    fn guard_passes_results_through() {
        let ok: Result<u32, BindingError> = guard("testing", || Ok(7));
        assert!(matches!(ok, Ok(7)));
        let err: Result<u32, BindingError> = guard("testing", || {
            Err(CoreError::new(ErrorKind::Corrupt, "bad table").into())
        });
        assert!(matches!(err, Err(BindingError::Core(e)) if e.kind() == ErrorKind::Corrupt));
    }

    #[test]
    fn payload_messages() {
        assert_eq!(payload_message(&"static"), "static");
        assert_eq!(payload_message(&String::from("owned")), "owned");
        assert_eq!(payload_message(&17_u8), "panic with a non-string payload");
    }
}
