//! `goscope.Target`: a Go process to inspect — a core file with its executable, or a live
//! process whose memory comes from `/proc/PID/mem` or from the debugger through a callback.

use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use goscope_core::analysis;
use goscope_core::report::{
    self, GoroutinesDocument, GroupsDocument, TargetDocument, ThreadDocument, TriageDocument,
    TriageParts, TriageReport,
};
use goscope_core::runtime::{Limits, Runtime, DEFAULT_MAX_FRAMES};
use goscope_core::session::Target;
use goscope_core::target::{CallbackMemory, Memory, PageCache, ProcMemory, Registers, Thread};
use goscope_core::{Binary, Error as CoreError, ErrorKind};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use serde_json::Value;

use crate::binary::PyBinary;
use crate::errors::{guard, BindingError};

/// `read(addr, len) -> bytes`, calling back into Python.
pub(crate) type ReadFn = Box<dyn Fn(u64, usize) -> goscope_core::Result<Vec<u8>> + Send + Sync>;

/// The page caches a live target reads through, so that they can be dropped when the process
/// moves on.
enum Cache {
    None,
    Callback(Arc<PageCache<CallbackMemory<ReadFn>>>),
    Proc(Arc<PageCache<ProcMemory>>),
}

impl Cache {
    fn clear(&self) {
        match self {
            Cache::None => {}
            Cache::Callback(cache) => cache.clear(),
            Cache::Proc(cache) => cache.clear(),
        }
    }
}

/// A core file or a live process, with its executable, decoded the way the Go runtime sees
/// it: goroutines, threads and Ms. Reads only; never writes target memory or registers.
#[pyclass(name = "Target", module = "goscope", frozen)]
pub(crate) struct PyTarget {
    inner: Mutex<Target>,
    cache: Cache,
    /// "core", "live" or "proc".
    kind: &'static str,
    /// Where memory comes from, for `info_json`.
    memory: String,
}

/// Hands `bytes` to the Python callable `write` as a str, taking the GIL for the call. An
/// exception it raises is kept in `raised` (to propagate unchanged) and ends the writing.
fn call_writer(write: &Py<PyAny>, bytes: &[u8], raised: &mut Option<PyErr>) -> std::io::Result<()> {
    // The text is made of strings only, so valid UTF-8; lossy is a fallback.
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    };
    Python::attach(|py| write.call1(py, (text.as_ref(),)).map(drop)).map_err(|err| {
        *raised = Some(err);
        std::io::Error::other("the output callback raised")
    })
}

fn lock(target: &Mutex<Target>) -> MutexGuard<'_, Target> {
    // A panic while decoding is caught by `guard`; the target itself is only read, so a
    // poisoned lock holds nothing half-updated.
    target.lock().unwrap_or_else(|e| e.into_inner())
}

/// `serde_json::to_string` of a value, failing as an internal error that says what was encoded.
macro_rules! encode {
    ($value:expr, $during:expr) => {
        serde_json::to_string($value).map_err(|err| BindingError::Internal {
            during: $during,
            message: err.to_string(),
        })
    };
}

/// `serde_json::to_value` of a value, failing as an internal error that says what was encoded.
macro_rules! to_value {
    ($value:expr, $during:expr) => {
        serde_json::to_value($value).map_err(|err| BindingError::Internal {
            during: $during,
            message: err.to_string(),
        })
    };
}

/// The executable as given from Python: a path, or an already opened `goscope.Binary`.
fn binary_of(py: Python<'_>, exe: &Bound<'_, PyAny>) -> Result<Arc<Binary>, BindingError> {
    if let Ok(binary) = exe.cast::<PyBinary>() {
        return Ok(binary.get().shared());
    }
    let path: PathBuf = exe.extract().map_err(|_| {
        BindingError::Core(CoreError::new(
            ErrorKind::Io,
            "the executable must be a path or a goscope.Binary",
        ))
    })?;
    py.detach(|| guard("opening the binary", || Ok(Arc::new(Binary::open(&path)?))))
}

/// Threads as `(lwp, {register name: value})`, registers named as the kernel and GDB name
/// them (`goscope_core::arch`).
fn threads_of(binary: &Binary, threads: Vec<(u32, Bound<'_, PyDict>)>) -> PyResult<Vec<Thread>> {
    let arch = binary.image().arch;
    let mut out = Vec::with_capacity(threads.len());
    for (lwp, values) in threads {
        let mut registers = Registers::new(arch);
        for (name, value) in values.iter() {
            let name: String = name.extract()?;
            let value: u64 = value.extract()?;
            if !registers.set(&name, value) {
                return Err(PyValueError::new_err(format!(
                    "thread {lwp}: no register named {name:?} on {arch:?}"
                )));
            }
        }
        out.push(Thread {
            lwp,
            signal: 0,
            pending: 0,
            blocked: 0,
            registers,
            siginfo: None,
        });
    }
    Ok(out)
}

/// Memory read through the Python callable `read_memory(addr, len) -> bytes`. Whatever the
/// callable raises becomes unreadable memory at that address.
pub(crate) fn callback_memory(read_memory: Py<PyAny>) -> CallbackMemory<ReadFn> {
    let read: ReadFn = Box::new(move |addr: u64, len: usize| {
        Python::attach(|py| {
            let unreadable = |why: String| {
                CoreError::new(
                    ErrorKind::Unreadable,
                    format!("cannot read {len} bytes of target memory at {addr:#x}: {why}"),
                )
                .at(addr)
            };
            let reply = read_memory
                .call1(py, (addr, len))
                .map_err(|err| unreadable(err.value(py).to_string()))?;
            let bytes = reply
                .bind(py)
                .cast::<PyBytes>()
                .map_err(|_| unreadable("the debugger's reader did not return bytes".to_owned()))?;
            Ok(bytes.as_bytes().to_vec())
        })
    });
    CallbackMemory::new(read)
}

/// Runs `f` on the runtime with the target's limits, the frame limit replaced by
/// `max_frames` when one is given (0: the built-in cap) and restored afterwards.
fn with_frames<R>(
    target: &mut Target,
    max_frames: Option<usize>,
    f: impl FnOnce(&Runtime) -> R,
) -> R {
    let saved = target.runtime().limits();
    if let Some(max_frames) = max_frames {
        target.runtime_mut().set_limits(Limits {
            max_frames,
            ..saved
        });
    }
    // Restored even when `f` panics (the caller's guard reports the panic): a frame limit
    // given for one call must not outlive it.
    let result = panic::catch_unwind(AssertUnwindSafe(|| f(target.runtime())));
    target.runtime_mut().set_limits(saved);
    result.unwrap_or_else(|payload| panic::resume_unwind(payload))
}

/// Where a live target's memory comes from.
struct LiveMemory {
    memory: Arc<dyn Memory>,
    cache: Cache,
    kind: &'static str,
    description: String,
}

impl LiveMemory {
    /// Through the debugger's `read_memory(addr, len) -> bytes`, page-cached.
    fn callback(read_memory: Py<PyAny>, description: String) -> LiveMemory {
        let cache = Arc::new(PageCache::new(callback_memory(read_memory)));
        LiveMemory {
            memory: cache.clone(),
            cache: Cache::Callback(cache),
            kind: "live",
            description,
        }
    }

    /// Through `/proc/PID/mem`, page-cached.
    fn proc(proc: ProcMemory) -> LiveMemory {
        let description = format!("/proc/{}/mem", proc.pid());
        let cache = Arc::new(PageCache::new(proc));
        LiveMemory {
            memory: cache.clone(),
            cache: Cache::Proc(cache),
            kind: "proc",
            description,
        }
    }
}

impl PyTarget {
    /// `value(target)` as JSON, computed with the GIL released; `during` names the work
    /// for errors and contained panics.
    fn json_of<T: serde::Serialize>(
        &self,
        py: Python<'_>,
        during: &'static str,
        value: impl FnOnce(&Target) -> T + Send,
    ) -> Result<String, BindingError> {
        let inner = &self.inner;
        py.detach(|| {
            guard(during, || {
                let target = lock(inner);
                encode!(&value(&target), during)
            })
        })
    }

    fn new_live(
        py: Python<'_>,
        binary: Arc<Binary>,
        source: LiveMemory,
        threads: Vec<Thread>,
        bias: u64,
    ) -> Result<PyTarget, BindingError> {
        let memory = source.memory;
        let inner = py.detach(|| {
            guard("reading the process's runtime", || {
                Ok(Target::from_parts(binary, memory, bias, threads)?)
            })
        })?;
        Ok(PyTarget {
            inner: Mutex::new(inner),
            cache: source.cache,
            kind: source.kind,
            memory: source.description,
        })
    }
}

#[pymethods]
impl PyTarget {
    /// Opens a core file with the executable that produced it.
    #[staticmethod]
    fn open_core(py: Python<'_>, core: PathBuf, exe: PathBuf) -> Result<Self, BindingError> {
        let inner = py.detach(|| {
            guard("opening the core file", || {
                Ok(Target::open_core(&core, &exe)?)
            })
        })?;
        Ok(PyTarget {
            inner: Mutex::new(inner),
            cache: Cache::None,
            kind: "core",
            memory: format!("core file {}", core.display()),
        })
    }

    /// A live process whose memory is read through `read_memory(addr, len) -> bytes` (e.g.
    /// GDB's `Inferior.read_memory`), cached page by page until [`clear_cache`]. `threads` is
    /// a list of `(lwp, {register: value})`; `bias` is how far a PIE executable was moved.
    #[staticmethod]
    #[pyo3(signature = (exe, read_memory, threads, bias = 0))]
    fn live(
        py: Python<'_>,
        exe: &Bound<'_, PyAny>,
        read_memory: Py<PyAny>,
        threads: Vec<(u32, Bound<'_, PyDict>)>,
        bias: u64,
    ) -> PyResult<Self> {
        let binary = binary_of(py, exe)?;
        let threads = threads_of(&binary, threads)?;
        let source = LiveMemory::callback(read_memory, "the debugger".to_owned());
        Ok(Self::new_live(py, binary, source, threads, bias)?)
    }

    /// A live process read through `/proc/PID/mem`; when that cannot be opened, through
    /// `read_memory` if given (else the error says why it could not be opened).
    #[staticmethod]
    #[pyo3(signature = (exe, pid, threads, bias = 0, read_memory = None))]
    fn proc(
        py: Python<'_>,
        exe: &Bound<'_, PyAny>,
        pid: u32,
        threads: Vec<(u32, Bound<'_, PyDict>)>,
        bias: u64,
        read_memory: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let binary = binary_of(py, exe)?;
        let threads = threads_of(&binary, threads)?;
        let source = match (ProcMemory::open(pid), read_memory) {
            (Ok(proc), _) => LiveMemory::proc(proc),
            (Err(error), Some(read_memory)) => {
                LiveMemory::callback(read_memory, format!("the debugger ({error})"))
            }
            (Err(error), None) => return Err(BindingError::Core(error).into()),
        };
        Ok(Self::new_live(py, binary, source, threads, bias)?)
    }

    /// "core", "live" (memory through the debugger) or "proc" (`/proc/PID/mem`).
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    /// The Go version of the executable's build information (`go1.22.10`), if it has one.
    #[getter]
    fn go_version(&self, py: Python<'_>) -> Result<Option<String>, BindingError> {
        let inner = &self.inner;
        py.detach(|| {
            guard("reading the Go version", || {
                Ok(report::go_version(&lock(inner)).map(str::to_owned))
            })
        })
    }

    /// How far the executable was moved from its link address (PIE), 0 otherwise.
    /// Why the goroutine list (`runtime.allgs`) cannot be read, or None when it can.
    #[getter]
    fn goroutine_list_error(&self) -> Option<String> {
        lock(&self.inner).runtime().allgs_error().map(str::to_owned)
    }

    #[getter]
    fn bias(&self) -> u64 {
        lock(&self.inner).runtime().bias()
    }

    /// Forgets cached target memory; call it whenever the process may have changed.
    fn clear_cache(&self) {
        self.cache.clear();
    }

    /// Sets what listings of goroutines show at most: frames per goroutine, goroutines read,
    /// and elements of each runtime list a goroutine carries (deferred calls, panics). 0 is
    /// the built-in cap (never no bound at all). Analyses (the crash, triage, the heap) read
    /// within the built-in caps only.
    #[pyo3(signature = (max_frames = DEFAULT_MAX_FRAMES, max_goroutines = 0, max_list = 0))]
    fn set_limits(&self, max_frames: usize, max_goroutines: u64, max_list: usize) {
        lock(&self.inner).runtime_mut().set_limits(Limits {
            max_frames,
            max_goroutines,
            max_list,
        });
    }

    /// `{"go_version": ..., "goroutines": [...], "total": N}` as DESIGN.md's JSON contract
    /// describes: the goroutines the filters keep, frames innermost first, and how many were
    /// read in all; within the target's limits (`max_frames` replaces the frame limit), with
    /// `"not_read": N` when the goroutine limit left some unread.
    #[pyo3(signature = (with_stacks = true, max_frames = None, state = None, wait_reason = None, function = None, user = false))]
    #[allow(clippy::too_many_arguments)]
    fn goroutines_json(
        &self,
        py: Python<'_>,
        with_stacks: bool,
        max_frames: Option<usize>,
        state: Option<String>,
        wait_reason: Option<String>,
        function: Option<String>,
        user: bool,
    ) -> Result<String, BindingError> {
        let filter = goscope_core::runtime::GoroutineFilter {
            state,
            wait_reason,
            function,
            user,
        };
        let inner = &self.inner;
        py.detach(|| {
            guard("listing goroutines", || {
                let mut target = lock(inner);
                let (mut goroutines, not_read) = with_frames(&mut target, max_frames, |rt| {
                    rt.goroutines_within_limits(with_stacks)
                });
                let total = goroutines.len();
                goroutines.retain(|g| filter.matches(g));
                let document = GoroutinesDocument {
                    go_version: report::go_version(&target),
                    goroutines: &goroutines,
                    total,
                    not_read: (not_read > 0).then_some(not_read),
                };
                encode!(&document, "encoding goroutines as JSON")
            })
        })
    }

    /// Streams the same document as `goroutines_json` to the open file descriptor `fd`
    /// (for example stdout's), goroutine by goroutine, keeping only those the filters match.
    /// A core with 100,000 goroutines never has to exist as one string or one Python list.
    /// Returns how many goroutines were written and how many of them carry an error.
    #[pyo3(signature = (fd, with_stacks = true, max_frames = None, state = None, wait_reason = None, function = None, user = false))]
    #[allow(clippy::too_many_arguments)]
    fn write_goroutines_json(
        &self,
        py: Python<'_>,
        fd: i32,
        with_stacks: bool,
        max_frames: Option<usize>,
        state: Option<String>,
        wait_reason: Option<String>,
        function: Option<String>,
        user: bool,
    ) -> Result<(usize, usize), BindingError> {
        use std::io::Write as _;
        use std::os::fd::BorrowedFd;
        if fd < 0 {
            return Err(
                CoreError::new(ErrorKind::Io, format!("invalid file descriptor {fd}")).into(),
            );
        }
        // SAFETY: the caller passes a descriptor it keeps open for the duration of the call;
        // it is duplicated at once, and only the duplicate is written and closed.
        let owned = unsafe { BorrowedFd::borrow_raw(fd) }
            .try_clone_to_owned()
            .map_err(|e| CoreError::new(ErrorKind::Io, format!("file descriptor {fd}: {e}")))?;
        let filter = goscope_core::runtime::GoroutineFilter {
            state,
            wait_reason,
            function,
            user,
        };
        let inner = &self.inner;
        py.detach(|| {
            guard("writing goroutines", || {
                let mut target = lock(inner);
                let mut out =
                    std::io::BufWriter::with_capacity(1 << 20, std::fs::File::from(owned));
                let n = with_frames(&mut target, max_frames, |rt| {
                    report::write_goroutines_json(rt, &mut out, with_stacks, &|g| filter.matches(g))
                })
                .and_then(|n| out.flush().map(|()| n))
                .map_err(|e| CoreError::new(ErrorKind::Io, format!("writing goroutines: {e}")))?;
                Ok(n)
            })
        })
    }

    /// Problems that did not stop goscope but limit what it shows, one line each. Cheap:
    /// unlike `info_json` it decodes no goroutines.
    fn warnings(&self) -> Vec<String> {
        lock(&self.inner).warnings().to_vec()
    }

    /// Writes goroutine stacks in the Go traceback's format by calling `write(text)` with
    /// pieces of many goroutines each: the goroutines `ids` names (all when None) or, for
    /// all, those the filters match. `color` adds ANSI colours; `system` adds the frames a
    /// running goroutine's thread has on its system stacks. Returns how many stacks were
    /// written, how many of them carry an error, and the ids that name no goroutine.
    /// An exception `write` raises stops the listing and propagates.
    #[pyo3(signature = (write, ids = None, system = false, color = false, max_frames = None, state = None, wait_reason = None, function = None, user = false))]
    #[allow(clippy::too_many_arguments)]
    fn write_stacks(
        &self,
        py: Python<'_>,
        write: Py<PyAny>,
        ids: Option<Vec<u64>>,
        system: bool,
        color: bool,
        max_frames: Option<usize>,
        state: Option<String>,
        wait_reason: Option<String>,
        function: Option<String>,
        user: bool,
    ) -> PyResult<(usize, usize, Vec<u64>)> {
        let filter = goscope_core::runtime::GoroutineFilter {
            state,
            wait_reason,
            function,
            user,
        };
        let opts = report::TextOptions { color, system };
        let inner = &self.inner;
        // The callback's exception, kept while the listing unwinds as an I/O error.
        let mut raised: Option<PyErr> = None;
        let result = py.detach(|| {
            guard("writing goroutine stacks", || {
                let mut target = lock(inner);
                let mut out = |bytes: &[u8]| call_writer(&write, bytes, &mut raised);
                let written = with_frames(&mut target, max_frames, |runtime| match &ids {
                    None => {
                        report::write_stacks_text(runtime, &mut out, opts, &|g| filter.matches(g))
                            .map(|(n, errors)| (n, errors, Vec::new()))
                    }
                    Some(ids) => {
                        let mut text = Vec::new();
                        let (mut n, mut errors, mut missing) = (0, 0, Vec::new());
                        for &goid in ids {
                            let Some(g) = runtime.goroutine(goid) else {
                                missing.push(goid);
                                continue;
                            };
                            if n > 0 {
                                text.extend_from_slice(b"\n\n");
                            }
                            report::render_stack(&mut text, &g, opts);
                            n += 1;
                            errors += usize::from(g.error.is_some());
                        }
                        if n > 0 {
                            text.push(b'\n');
                            out(&text).map(|()| (n, errors, missing))
                        } else {
                            Ok((n, errors, missing))
                        }
                    }
                });
                written.map_err(|e| {
                    CoreError::new(ErrorKind::Io, format!("writing goroutine stacks: {e}")).into()
                })
            })
        });
        if let Some(err) = raised {
            return Err(err);
        }
        Ok(result?)
    }

    /// Writes the one-line goroutine listing (`go goroutines`) by calling `write(text)` with
    /// pieces of many goroutines, then a count line: the goroutines the filters match, each
    /// with where it is in the program's own code (the main module and its dependencies, from
    /// the build information), `*` marking goroutine `current`. Returns (shown, shown with an
    /// error, all goroutines). An exception `write` raises stops the listing and propagates.
    #[pyo3(signature = (write, current = None, color = false, state = None, wait_reason = None, function = None, user = false))]
    #[allow(clippy::too_many_arguments)]
    fn write_listing(
        &self,
        py: Python<'_>,
        write: Py<PyAny>,
        current: Option<u64>,
        color: bool,
        state: Option<String>,
        wait_reason: Option<String>,
        function: Option<String>,
        user: bool,
    ) -> PyResult<(usize, usize, usize)> {
        let filter = goscope_core::runtime::GoroutineFilter {
            state,
            wait_reason,
            function,
            user,
        };
        let opts = report::TextOptions {
            color,
            system: false,
        };
        let inner = &self.inner;
        let mut raised: Option<PyErr> = None;
        let result = py.detach(|| {
            guard("listing goroutines", || {
                let target = lock(inner);
                let code = goscope_core::runtime::UserCode::of_binary(target.runtime().binary());
                let mut out = |bytes: &[u8]| call_writer(&write, bytes, &mut raised);
                report::write_listing_text(target.runtime(), &mut out, opts, &code, current, &|g| {
                    filter.matches(g)
                })
                .map_err(|e| {
                    CoreError::new(ErrorKind::Io, format!("listing goroutines: {e}")).into()
                })
            })
        });
        if let Some(err) = raised {
            return Err(err);
        }
        Ok(result?)
    }

    /// What crashed and why, as a JSON object (the core's signal, the crashing thread and
    /// goroutine, the signal the runtime recorded on it, a fatal error's message, its
    /// panics and a one-line summary), or None when no thread took a signal.
    fn crash_json(&self, py: Python<'_>) -> Result<Option<String>, BindingError> {
        let inner = &self.inner;
        py.detach(|| {
            guard("reading the crash", || {
                let target = lock(inner);
                match analysis::crash::crash(target.runtime()) {
                    Some(c) => Ok(Some(encode!(&c, "encoding the crash as JSON")?)),
                    None => Ok(None),
                }
            })
        })
    }

    /// Goroutines grouped by identical stacks, as JSON: `{"groups": [...], "total": N}`; the
    /// group holding goroutine `crashed` comes first, then the largest.
    #[pyo3(signature = (crashed = None))]
    fn groups_json(&self, py: Python<'_>, crashed: Option<u64>) -> Result<String, BindingError> {
        let inner = &self.inner;
        py.detach(|| {
            guard("grouping goroutines", || {
                let target = lock(inner);
                let grouped = analysis::groups::groups(target.runtime(), crashed);
                let document = GroupsDocument {
                    groups: &grouped.groups,
                    total: grouped.total,
                    goroutines_error: grouped.list_error.as_deref(),
                };
                encode!(&document, "encoding goroutine groups as JSON")
            })
        })
    }

    /// The triage's goroutine part as JSON, from one decoding pass: `{"groups": [...],
    /// "total": N, "blocking": {"channels", "objects", "deadlocks", "leaks", "notes"}}`.
    /// With `heap`, goroutine leaks by reachability through the heap's object graph are
    /// added as `blocking.unreachable`.
    #[pyo3(signature = (crashed = None, heap = true))]
    fn triage_json(
        &self,
        py: Python<'_>,
        crashed: Option<u64>,
        heap: bool,
    ) -> Result<String, BindingError> {
        let inner = &self.inner;
        py.detach(|| {
            guard("analysing goroutines", || {
                let target = lock(inner);
                let build = || target.heap_graph();
                let graph: Option<&dyn Fn() -> _> = if heap { Some(&build) } else { None };
                let (grouped, blocking) =
                    analysis::groups::triage_with(target.runtime(), crashed, graph);
                let document = TriageDocument {
                    groups: &grouped.groups,
                    total: grouped.total,
                    blocking: &blocking,
                    goroutines_error: grouped.list_error.as_deref(),
                };
                encode!(&document, "encoding the triage as JSON")
            })
        })
    }

    /// The whole triage report as JSON (`goscope_core::report::TriageReport`): build,
    /// process, scheduler, crash, the crashing goroutine's pending defers, groups and
    /// blocking; with `heap`, goroutine leaks by reachability through the heap's object graph.
    #[pyo3(signature = (heap = true))]
    fn triage_report_json(&self, py: Python<'_>, heap: bool) -> Result<String, BindingError> {
        let inner = &self.inner;
        py.detach(|| {
            guard("analysing goroutines", || {
                let target = lock(inner);
                let parts = TriageParts::of(&target);
                let report = TriageReport::of(&target, &parts, heap);
                encode!(&report, "encoding the triage as JSON")
            })
        })
    }

    /// A walk of the heap as JSON: `{"totals": {...}, "size_classes": [...], "found",
    /// "idle_source", "warnings": [...]}`, counted from the spans' allocation bits.
    fn heap_json(&self, py: Python<'_>) -> Result<String, BindingError> {
        self.json_of(py, "walking the heap", |target| {
            target.runtime().heap_walk(target.layout())
        })
    }

    /// The heap's objects grouped `by` "type", "sizeclass" or "root" as JSON (the `top`
    /// largest groups, the rest summed), with totals, the largest retainers and warnings.
    fn heap_report_json(
        &self,
        py: Python<'_>,
        by: &str,
        top: usize,
    ) -> Result<String, BindingError> {
        let inner = &self.inner;
        let Some(by) = goscope_core::analysis::heapreport::GroupBy::parse(by) else {
            return Err(BindingError::Core(goscope_core::Error::new(
                goscope_core::ErrorKind::Unsupported,
                format!("cannot group the heap by {by:?}: use type, sizeclass or root"),
            )));
        };
        py.detach(|| {
            guard("analysing the heap", || {
                let graph = lock(inner).heap_graph();
                let report = graph.report(by, top);
                encode!(&report, "encoding the heap report as JSON")
            })
        })
    }

    /// Why the heap object containing `addr` is alive, as JSON: the shortest path from a
    /// root, its retained size.
    fn heap_why_json(&self, py: Python<'_>, addr: u64) -> Result<String, BindingError> {
        let inner = &self.inner;
        py.detach(|| {
            guard("finding what keeps an object alive", || {
                let target = lock(inner);
                let graph = target.heap_graph();
                let why = graph.why(addr, target.runtime().types());
                encode!(&why, "encoding the retaining path as JSON")
            })
        })
    }

    /// Writes a gzipped pprof profile of the reachable heap (inuse_objects, inuse_space)
    /// whose stacks are retaining paths to `path`; returns its size in bytes.
    fn heap_pprof(&self, py: Python<'_>, path: std::path::PathBuf) -> Result<usize, BindingError> {
        let inner = &self.inner;
        py.detach(|| {
            guard("writing the heap profile", || {
                let graph = lock(inner).heap_graph();
                let io = |e: std::io::Error| {
                    BindingError::Core(goscope_core::Error::new(
                        goscope_core::ErrorKind::Io,
                        format!("cannot write the heap profile {}: {e}", path.display()),
                    ))
                };
                let bytes = graph.pprof().map_err(io)?;
                std::fs::write(&path, &bytes).map_err(io)?;
                Ok(bytes.len())
            })
        })
    }

    /// The runtime's Ps as JSON: id, status, the M holding it, run queue length.
    fn ps_json(&self, py: Python<'_>) -> Result<String, BindingError> {
        self.json_of(py, "listing Ps", |target| target.runtime().ps())
    }

    /// The scheduler and memory statistics as JSON: Ps and their states, local and global
    /// run queue lengths, the GC phase, GOGC and the memory limit, what runtime.ReadMemStats
    /// would report, why any of them is unavailable, and how each runtime variable was found.
    fn scheduler_json(&self, py: Python<'_>) -> Result<String, BindingError> {
        self.json_of(
            py,
            "reading the scheduler and memory statistics",
            |target| target.runtime().scheduler(target.layout()),
        )
    }

    /// One goroutine as a JSON object, or None when no live goroutine has that id; within
    /// the target's frame and list limits (`max_frames` replaces the frame limit).
    #[pyo3(signature = (goid, max_frames = None))]
    fn goroutine_json(
        &self,
        py: Python<'_>,
        goid: u64,
        max_frames: Option<usize>,
    ) -> Result<Option<String>, BindingError> {
        let inner = &self.inner;
        py.detach(|| {
            guard("reading a goroutine", || {
                let mut target = lock(inner);
                match with_frames(&mut target, max_frames, |rt| rt.goroutine(goid)) {
                    Some(g) => Ok(Some(encode!(&g, "encoding a goroutine as JSON")?)),
                    None => Ok(None),
                }
            })
        })
    }

    /// Every thread as a JSON list: lwp, pc, sp, the function at pc, M and P ids, the goid
    /// of the M's current goroutine, which stack the thread is on, and whether it crashed.
    fn threads_json(&self, py: Python<'_>) -> Result<String, BindingError> {
        let inner = &self.inner;
        py.detach(|| {
            guard("listing threads", || {
                let target = lock(inner);
                let threads = target.runtime().threads();
                let documents: Vec<ThreadDocument<'_>> = threads
                    .iter()
                    .map(|t| ThreadDocument::of(&target, t))
                    .collect();
                encode!(&documents, "encoding threads as JSON")
            })
        })
    }

    /// Every M as a JSON list (address, id, thread id, g0, gsignal, curg, p, lockedg).
    fn ms_json(&self, py: Python<'_>) -> Result<String, BindingError> {
        self.json_of(py, "listing Ms", |target| target.runtime().ms().to_vec())
    }

    /// Facts about the target as a JSON object: kind, where memory comes from, Go version,
    /// load bias, the signal that stopped a core, warnings, and goroutine, thread and M
    /// counts.
    fn info_json(&self, py: Python<'_>) -> Result<String, BindingError> {
        let inner = &self.inner;
        let kind = self.kind;
        let memory = self.memory.as_str();
        py.detach(|| {
            guard("describing the target", || {
                let target = lock(inner);
                let document = TargetDocument::of(&target, kind, memory);
                encode!(&document, "encoding the target's description")
            })
        })
    }

    /// The runtime type descriptor (`abi.Type`) at `addr`, for the pretty printers: its
    /// name as `%T` prints it, its kind as `reflect` spells it, its size, the bytes that may
    /// hold pointers, whether an interface holds such a value in its data word, and the
    /// name DWARF gives the type.
    #[allow(clippy::type_complexity)]
    fn type_descriptor(
        &self,
        py: Python<'_>,
        addr: u64,
    ) -> Result<(String, &'static str, u64, u64, bool, String), BindingError> {
        let inner = &self.inner;
        py.detach(|| {
            guard("reading a type descriptor", || {
                let target = lock(inner);
                let Some(types) = target.runtime().types() else {
                    return Err(CoreError::new(
                        ErrorKind::Unsupported,
                        "the runtime's type descriptors cannot be read (no moduledata found)",
                    )
                    .into());
                };
                let t = types.read(addr)?;
                let dwarf = types.dwarf_name(addr)?;
                Ok((
                    t.name,
                    t.kind.name(),
                    t.size,
                    t.ptr_bytes,
                    t.direct_iface,
                    dwarf,
                ))
            })
        })
    }

    /// Offset of `field` (dotted: `sched.sp`) in the runtime struct `type` (`runtime.g`) as
    /// goscope uses it for this target, or None when the layout lacks it.
    fn layout_offset(&self, ty: &str, field: &str) -> Result<Option<u64>, BindingError> {
        guard("looking up a field's offset", || {
            Ok(lock(&self.inner).layout().offset(ty, field).ok())
        })
    }

    /// Where the runtime layout came from: "dwarf" or "table".
    #[getter]
    fn layout_source(&self) -> Result<String, BindingError> {
        let target = lock(&self.inner);
        match to_value!(&target.layout().source(), "encoding the layout source")? {
            Value::String(source) => Ok(source),
            other => Ok(other.to_string()),
        }
    }

    fn __repr__(&self) -> String {
        format!("<goscope.Target {} from {}>", self.kind, self.memory)
    }
}
