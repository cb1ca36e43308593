//! The documents of the JSON contract (DESIGN.md), typed once: what a front end prints for
//! `--json` is one of these serialized, so the command line and GDB cannot assemble a
//! document differently. Fields are added, never renamed. Beside them: the fast encoder of
//! goroutines ([`encode`]), the traceback text ([`text`]) and the streaming of listings of
//! 100,000 goroutines ([`stream`]).

pub mod encode;
pub mod stream;
pub mod text;

pub use self::stream::{write_goroutines_json, write_listing_text, write_stacks_text};
pub use self::text::{render_stack, TextOptions};

use serde::Serialize;

use crate::analysis::blocking::Blocking;
use crate::analysis::crash::{self, Crash};
use crate::analysis::groups::{self, Group};
use crate::binary::buildinfo::Module;
use crate::binary::elf::Dwarf;
use crate::binary::BinaryInfo;
use crate::layout::LayoutSource;
use crate::runtime::sched::Scheduler;
use crate::runtime::{Defer, Goroutine, PInfo, ThreadInfo};
use crate::session::Target;
use crate::target::SignalInfo;

/// `goroutines --json`: the goroutines the filters kept, of `total`.
#[derive(Debug, Serialize)]
pub struct GoroutinesDocument<'a> {
    pub go_version: Option<&'a str>,
    pub goroutines: &'a [Goroutine],
    /// Goroutines decoded, before the filters.
    pub total: usize,
    /// Goroutines past the limits, not decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_read: Option<u64>,
}

/// Goroutines grouped by identical stacks.
#[derive(Debug, Serialize)]
pub struct GroupsDocument<'a> {
    pub groups: &'a [Group],
    pub total: usize,
    /// Why the goroutine list (or the rest of it) could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goroutines_error: Option<&'a str>,
}

/// The goroutine part of a triage: the groups and what the goroutines wait on.
#[derive(Debug, Serialize)]
pub struct TriageDocument<'a> {
    pub groups: &'a [Group],
    pub total: usize,
    pub blocking: &'a Blocking,
    /// Why the goroutine list (or the rest of it) could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goroutines_error: Option<&'a str>,
}

/// The signal that stopped a core, as its NT_SIGINFO note records it, with its name and
/// whether the kernel raised it.
#[derive(Debug, Serialize)]
pub struct SignalDocument<'a> {
    #[serde(flatten)]
    pub info: &'a SignalInfo,
    pub name: String,
    pub from_kernel: bool,
}

impl<'a> From<&'a SignalInfo> for SignalDocument<'a> {
    fn from(info: &'a SignalInfo) -> SignalDocument<'a> {
        SignalDocument {
            info,
            name: info.signal_name(),
            from_kernel: info.from_kernel(),
        }
    }
}

/// What a target is: its kind and memory source, the Go version, load bias, layout source,
/// the signal that stopped a core, warnings and counts.
#[derive(Debug, Serialize)]
pub struct TargetDocument<'a> {
    pub kind: &'a str,
    pub memory: &'a str,
    pub go_version: Option<&'a str>,
    pub bias: u64,
    pub layout: LayoutSource,
    pub signal: Option<SignalDocument<'a>>,
    pub warnings: &'a [String],
    pub goroutines: usize,
    pub goroutine_slots: u64,
    pub threads: usize,
    pub ms: usize,
}

impl<'a> TargetDocument<'a> {
    /// The description of `target`, which the front end knows as `kind` reading `memory`.
    pub fn of(target: &'a Target, kind: &'a str, memory: &'a str) -> TargetDocument<'a> {
        let runtime = target.runtime();
        TargetDocument {
            kind,
            memory,
            go_version: go_version(target),
            bias: runtime.bias(),
            layout: target.layout().source(),
            signal: target.signal().map(SignalDocument::from),
            warnings: target.warnings(),
            goroutines: runtime.goroutines(false).len(),
            goroutine_slots: runtime.allg_count(),
            threads: runtime.raw_threads().len(),
            ms: runtime.ms().len(),
        }
    }
}

/// The Go version the executable's build information names.
pub fn go_version(target: &Target) -> Option<&str> {
    target
        .binary()
        .build_info()
        .ok()
        .map(|b| b.go_version.as_str())
}

/// One thread of `threads --json`: what the runtime knows of it, and the function and
/// file:line at its pc.
#[derive(Debug, Serialize)]
pub struct ThreadDocument<'a> {
    #[serde(flatten)]
    pub thread: &'a ThreadInfo,
    pub function: Option<&'a str>,
    pub file: Option<&'a str>,
    pub line: Option<i32>,
}

impl<'a> ThreadDocument<'a> {
    pub fn of(target: &'a Target, thread: &'a ThreadInfo) -> ThreadDocument<'a> {
        let bias = target.runtime().bias();
        let at = target.binary().pc_line(thread.pc.wrapping_sub(bias));
        ThreadDocument {
            thread,
            function: at.as_ref().map(|l| l.function),
            file: at.as_ref().map(|l| l.file),
            line: at.as_ref().map(|l| l.line),
        }
    }
}

/// The build facts a triage report shows (from the executable's build information).
#[derive(Debug, Serialize)]
pub struct TriageBuild<'a> {
    pub path: Option<&'a str>,
    pub main: Option<&'a Module>,
    pub settings: &'a [(String, String)],
    pub pie: bool,
    pub dwarf: Dwarf,
    pub symbols: bool,
    pub build_id: Option<&'a str>,
}

/// The threads and Ps of the process.
#[derive(Debug, Serialize)]
pub struct TriageProcess<'a> {
    pub threads: Vec<ThreadDocument<'a>>,
    pub gomaxprocs: usize,
    pub ps: Vec<PInfo>,
}

/// `triage --json`: build, process, scheduler, crash, the crashing goroutine's pending
/// deferred calls (the cleanup it never got to run), goroutine groups and what goroutines
/// wait on.
#[derive(Debug, Serialize)]
pub struct TriageReport<'a> {
    pub go_version: Option<&'a str>,
    pub build: TriageBuild<'a>,
    pub process: TriageProcess<'a>,
    pub scheduler: Scheduler,
    pub crash: Option<Crash>,
    pub crash_defers: Vec<Defer>,
    pub groups: Vec<Group>,
    pub total: usize,
    pub blocking: Blocking,
    /// Why the goroutine list (or the rest of it) could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goroutines_error: Option<String>,
}

/// The parts of a triage report that borrow nothing from the target.
pub struct TriageParts {
    info: BinaryInfo,
    threads: Vec<ThreadInfo>,
}

impl TriageParts {
    pub fn of(target: &Target) -> TriageParts {
        TriageParts {
            info: target.binary().info(),
            threads: target.runtime().threads(),
        }
    }
}

impl<'a> TriageReport<'a> {
    /// The report of `target`; with `heap`, goroutine leaks by reachability through the
    /// heap's object graph too.
    pub fn of(target: &'a Target, parts: &'a TriageParts, heap: bool) -> TriageReport<'a> {
        let runtime = target.runtime();
        let crash = crash::crash(runtime);
        let crashed = crash.as_ref().and_then(|c| c.goroutine);
        let build_graph = || target.heap_graph();
        let graph: Option<&dyn Fn() -> _> = if heap { Some(&build_graph) } else { None };
        let (grouped, blocking) = groups::triage_with(runtime, crashed, graph);
        let ps = runtime.ps();
        let info = &parts.info;
        TriageReport {
            go_version: go_version(target),
            build: TriageBuild {
                path: info.path.as_deref(),
                main: info.main.as_ref(),
                settings: &info.settings,
                pie: info.pie,
                dwarf: info.dwarf,
                symbols: info.symbols,
                build_id: info.build_id.as_deref(),
            },
            process: TriageProcess {
                threads: parts
                    .threads
                    .iter()
                    .map(|t| ThreadDocument::of(target, t))
                    .collect(),
                gomaxprocs: ps.len(),
                ps,
            },
            scheduler: runtime.scheduler(target.layout()),
            crash_defers: crashed
                .and_then(|id| runtime.goroutine(id))
                .map(|g| g.defers)
                .unwrap_or_default(),
            crash,
            groups: grouped.groups,
            total: grouped.total,
            blocking,
            goroutines_error: grouped.list_error,
        }
    }
}
