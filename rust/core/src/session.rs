//! A debugging target: the executable, the memory it ran in (a core file or a live process),
//! the runtime layout for its Go version, and the runtime decoded from all three.

use std::path::Path;
use std::sync::Arc;

use crate::binary::Binary;
use crate::bytes::ReadLe;
use crate::error::{Error, ErrorKind, Result};
use crate::layout::RuntimeLayout;
use crate::runtime::{Names, Offsets, Runtime};
use crate::target::{CoreFile, CoreMemory, Memory, SignalInfo, Thread};

pub struct Target {
    binary: Arc<Binary>,
    layout: RuntimeLayout,
    runtime: Runtime,
    signal: Option<SignalInfo>,
    warnings: Vec<String>,
    /// The heap's object graph, built on first use (a live process must drop it when it
    /// runs on).
    graph: std::sync::Mutex<Option<Arc<crate::analysis::heapgraph::HeapGraph>>>,
}

impl Target {
    /// Opens a core file with the executable that produced it.
    pub fn open_core(core: &Path, exe: &Path) -> Result<Target> {
        let binary = Arc::new(Binary::open(exe)?);
        let core_file = CoreFile::open(core)?;
        let signal = core_file.signal().cloned();
        let threads = core_file.threads().to_vec();
        let memory = CoreMemory::new(core_file, binary.image())
            .map_err(|e| e.context(&core.display().to_string()))?;
        let mut warnings: Vec<String> = memory.core().warnings().to_vec();
        let bias = memory.bias();
        warnings.extend(binary.info().warnings);
        let mut t = Self::from_parts(binary, Arc::new(memory), bias, threads)?;
        t.signal = signal;
        t.warnings.extend(warnings);
        Ok(t)
    }

    /// A target over any memory (a live process) with its threads' registers.
    pub fn from_parts(
        binary: Arc<Binary>,
        memory: Arc<dyn Memory>,
        bias: u64,
        threads: Vec<Thread>,
    ) -> Result<Target> {
        let version = binary.go_version();
        let mut layout = RuntimeLayout::for_binary(binary.image(), version)?;
        if let Some(strings) = wait_reason_strings(&binary) {
            let constants = layout.constants().clone();
            layout.set_runtime_data(constants, strings);
        }
        let off = Offsets::resolve(&|t, f| layout.offset(t, f).ok(), &|t| layout.size(t).ok())?;
        let names = Names {
            wait_reasons: layout.wait_reasons().to_vec(),
            dead_states: ["_Gdeadextra"]
                .iter()
                .filter_map(|c| layout.constant(c))
                .filter_map(|v| u32::try_from(v).ok())
                .collect(),
            statuses: (0..32)
                .map(|i| layout.status_name(i).unwrap_or_default().to_string())
                .collect(),
        };
        let mut runtime = Runtime::new(binary.clone(), memory.clone(), bias, threads, off, names)?;
        runtime
            .set_types(crate::runtime::types::TypeReader::new(memory, &binary, bias, &layout).ok());
        Ok(Target {
            binary,
            layout,
            runtime,
            signal: None,
            warnings: Vec::new(),
            graph: std::sync::Mutex::new(None),
        })
    }

    pub fn binary(&self) -> &Binary {
        &self.binary
    }

    pub fn layout(&self) -> &RuntimeLayout {
        &self.layout
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    pub fn runtime_mut(&mut self) -> &mut Runtime {
        &mut self.runtime
    }

    /// The heap's object graph, typed by DWARF when the binary has it; built once.
    pub fn heap_graph(&self) -> Arc<crate::analysis::heapgraph::HeapGraph> {
        // A poisoned lock holds either nothing or a finished graph.
        let mut cached = self.graph.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = cached.as_ref() {
            return Arc::clone(g);
        }
        let (dwarf, note) = match crate::binary::dwarfvars::DwarfVars::load(&self.binary) {
            Ok(d) => (d, None),
            Err(e) => (None, Some(format!("DWARF variables unreadable: {e}"))),
        };
        let mut g =
            crate::analysis::heapgraph::heap_graph(&self.runtime, &self.layout, dwarf.as_ref());
        g.warnings.extend(note);
        let g = Arc::new(g);
        *cached = Some(Arc::clone(&g));
        g
    }

    /// Forgets the heap graph (the process ran on).
    pub fn forget_heap_graph(&self) {
        *self.graph.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    pub fn signal(&self) -> Option<&SignalInfo> {
        self.signal.as_ref()
    }

    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// `runtime.waitReasonStrings` read from the executable when its symbol table names it, so
/// wait reasons come from the binary itself rather than from a table.
fn wait_reason_strings(binary: &Binary) -> Option<Vec<String>> {
    let image = binary.image();
    let (addr, size) = image.symbol("runtime.waitReasonStrings")?;
    let n = size / 16;
    if n == 0 || n > 1024 {
        return None;
    }
    let mut out = Vec::new();
    for i in 0..n {
        let entry = addr.wrapping_add(i.saturating_mul(16));
        let ptr = image.read_ptr(entry)?;
        let len = image.data_from(entry.wrapping_add(8))?.u64_at(0)?;
        if len == 0 {
            out.push(String::new());
            continue;
        }
        let data = image.data_from(ptr)?;
        let bytes = data.get(..usize::try_from(len).ok()?)?;
        out.push(String::from_utf8_lossy(bytes).into_owned());
    }
    Some(out)
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, e.to_string())
    }
}
