//! Target memory against its oracles: GDB's reading of the fixture cores (threads, LWP ids,
//! registers, auxv, mappings, siginfo), the Go runtime's own traceback (gp=, mp=, sp=, pc=
//! addresses), the executables' bytes, and synthetic cores for what the fixtures lack
//! (arm64, fault addresses). Bad cores give one clear error or a warning, never a panic.
//! The tests over fixture cores are ignored in a plain `cargo test` (the fixtures are built by
//! the Python harness); scripts/test runs them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use goscope_core::binary::elf::{Arch, ElfImage};
use goscope_core::bytes::Blob;
use goscope_core::target::{
    CallbackMemory, CoreFile, CoreMemory, Memory, MemoryExt, PageCache, ProcMemory, Registers,
    VecMemory,
};
use goscope_core::{Error, ErrorKind};

// ---------------------------------------------------------------------------------------------
// Fixtures

struct Fixture {
    dir: PathBuf,
    toolchain: String,
    program: String,
    variant: String,
}

impl Fixture {
    fn id(&self) -> String {
        format!("{}/{}-{}", self.toolchain, self.program, self.variant)
    }
    fn bin(&self) -> PathBuf {
        self.dir.join("bin")
    }
    fn core(&self) -> PathBuf {
        self.dir.join("core")
    }
    fn open(&self) -> (CoreFile, ElfImage) {
        let core = CoreFile::open(&self.core())
            .unwrap_or_else(|e| panic!("{}: cannot open core: {e}", self.id()));
        let exe = ElfImage::open(&self.bin())
            .unwrap_or_else(|e| panic!("{}: cannot open bin: {e}", self.id()));
        (core, exe)
    }
    fn memory(&self) -> CoreMemory {
        let (core, exe) = self.open();
        CoreMemory::new(core, &exe).unwrap_or_else(|e| panic!("{}: {e}", self.id()))
    }
}

fn fixtures_root() -> PathBuf {
    std::env::var_os("GOSCOPE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../build/fixtures"))
}

/// Every fixture with a core; fails when there is none (the fixtures must be built).
fn core_fixtures() -> Vec<Fixture> {
    let root = fixtures_root();
    let mut out = Vec::new();
    let toolchains = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("no fixtures at {}: {e}", root.display()));
    for tc in toolchains.flatten() {
        let Ok(progs) = std::fs::read_dir(tc.path()) else {
            continue;
        };
        for p in progs.flatten() {
            let dir = p.path();
            if !dir.join("core").is_file() || !dir.join("bin").is_file() {
                continue;
            }
            let name = p.file_name().to_string_lossy().into_owned();
            let Some((program, variant)) = name.split_once('-') else {
                continue;
            };
            out.push(Fixture {
                dir,
                toolchain: tc.file_name().to_string_lossy().into_owned(),
                program: program.to_string(),
                variant: variant.to_string(),
            });
        }
    }
    out.sort_by_key(|f| f.id());
    assert!(
        !out.is_empty(),
        "no fixture cores under {} (build them first)",
        root.display()
    );
    out
}

/// Runs `f` on every fixture, a few at a time, and reports every failure at once.
fn for_each_fixture(f: impl Fn(&Fixture) -> Result<(), String> + Sync) {
    let fixtures = core_fixtures();
    let workers = std::thread::available_parallelism().map_or(4, |n| n.get().min(8));
    let next = AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(fx) = fixtures.get(i) else { break };
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(fx)))
                    .unwrap_or_else(|p| {
                        Err(p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "panic".into()))
                    });
                if let Err(msg) = result {
                    failures.lock().unwrap().push(format!("{}: {msg}", fx.id()));
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        fixtures.len(),
        failures.join("\n")
    );
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok()
}

// ---------------------------------------------------------------------------------------------
// GDB's view of a core

#[derive(Debug, Default)]
struct GdbView {
    /// (LWP, register name → value), in GDB's thread order (thread 1 first).
    threads: Vec<(u32, HashMap<String, u64>)>,
    auxv: Vec<(u64, u64)>,
    /// (start, end, offset, path)
    mappings: Vec<(u64, u64, u64, String)>,
    generated_by: Option<String>,
    signal_name: Option<String>,
    si_signo: Option<i32>,
    si_code: Option<i32>,
    si_pid: Option<i32>,
}

fn gdb_view(fx: &Fixture) -> GdbView {
    let out = Command::new("gdb")
        .args([
            "--nx",
            "--batch",
            "-ex",
            "set width 0",
            "-ex",
            "thread apply all info registers rip rsp rbp r14 fs_base",
            "-ex",
            "info auxv",
            "-ex",
            "info proc mappings",
            "-ex",
            "print $_siginfo.si_signo",
            "-ex",
            "print $_siginfo.si_code",
            "-ex",
            "print $_siginfo._sifields._kill.si_pid",
        ])
        .arg(fx.bin())
        .arg(fx.core())
        .output()
        .expect("run gdb");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut view = GdbView::default();
    let mut by_num: Vec<(u32, u32, HashMap<String, u64>)> = Vec::new();
    let mut prints = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Thread ") {
            // "Thread 7 (LWP 17475):" or "Thread 7 (Thread 0x... (LWP 17475)):"
            let num: u32 = rest
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let lwp = rest
                .split("LWP ")
                .nth(1)
                .and_then(|s| s.split(')').next())
                .and_then(|s| s.parse().ok())
                .expect("LWP in gdb thread header");
            by_num.push((num, lwp, HashMap::new()));
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if let (Some(last), [name, value, ..]) = (by_num.last_mut(), words.as_slice()) {
            if ["rip", "rsp", "rbp", "r14", "fs_base"].contains(name) {
                last.2
                    .insert(name.to_string(), hex(value).expect("register value"));
                continue;
            }
        }
        if let Some(rest) = line.strip_prefix("Core was generated by `") {
            view.generated_by = rest.strip_suffix("'.").map(str::to_string);
        } else if let Some(rest) = line.strip_prefix("Program terminated with signal ") {
            view.signal_name = rest.split(',').next().map(str::to_string);
        } else if let Some(v) = line.strip_prefix('$').and_then(|l| l.split(" = ").nth(1)) {
            prints.push(v.trim().parse::<i32>().ok());
        } else if line.starts_with("0x") || line.trim_start().starts_with("0x") {
            if let [s, e, _size, off, path @ ..] = words.as_slice() {
                if let (Some(s), Some(e), Some(off)) = (hex(s), hex(e), hex(off)) {
                    view.mappings.push((s, e, off, path.join(" ")));
                }
            }
        } else if let [key, ..] = words.as_slice() {
            // auxv: "9    AT_ENTRY    Entry point of program    0x5618c5196e00"
            if let (Ok(k), Some(v)) = (key.parse::<u64>(), words.last()) {
                if words
                    .get(1)
                    .is_some_and(|w| w.starts_with("AT_") || *w == "???")
                {
                    let v = if v.starts_with('"') {
                        // String-valued entries end with the string: take the address before it.
                        words
                            .iter()
                            .rev()
                            .find(|w| w.starts_with("0x"))
                            .and_then(|w| hex(w))
                    } else if v.starts_with("0x") {
                        hex(v)
                    } else {
                        v.parse().ok()
                    };
                    if let (Some(v), true) = (v, k != 0) {
                        view.auxv.push((k, v));
                    }
                }
            }
        }
    }
    // GDB prints "thread apply all" from the highest thread number down.
    by_num.sort_by_key(|t| t.0);
    view.threads = by_num.into_iter().map(|(_, l, r)| (l, r)).collect();
    view.si_signo = prints.first().copied().flatten();
    view.si_code = prints.get(1).copied().flatten();
    view.si_pid = prints.get(2).copied().flatten();
    view
}

// ---------------------------------------------------------------------------------------------
// Fixture cores

#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn fixture_cores_agree_with_gdb() {
    for_each_fixture(|fx| {
        let (core, _exe) = fx.open();
        let gdb = gdb_view(fx);
        if core.arch() != Arch::Amd64 {
            return Ok(());
        }
        let threads = core.threads();
        if threads.len() != gdb.threads.len() {
            return Err(format!(
                "{} threads, gdb sees {}",
                threads.len(),
                gdb.threads.len()
            ));
        }
        for (i, (t, (lwp, regs))) in threads.iter().zip(&gdb.threads).enumerate() {
            if t.lwp != *lwp {
                return Err(format!("thread {i}: LWP {} but gdb says {lwp}", t.lwp));
            }
            let r = &t.registers;
            let ours = [
                ("rip", r.pc()),
                ("rsp", r.sp()),
                ("rbp", r.fp()),
                ("r14", r.g_register()),
                ("fs_base", r.tls_base().unwrap_or(0)),
            ];
            for (name, v) in ours {
                let theirs = regs.get(name).copied();
                if theirs != Some(v) {
                    return Err(format!(
                        "thread {i} (LWP {lwp}): {name} = {v:#x}, gdb says {theirs:x?}"
                    ));
                }
                if r.get(name) != Some(v) {
                    return Err(format!("thread {i}: get({name}) disagrees with accessor"));
                }
            }
            if r.lr().is_some() {
                return Err("amd64 has no link register".into());
            }
            if r.named().len() != 27 {
                return Err(format!("{} named registers", r.named().len()));
            }
        }
        if core.auxv() != gdb.auxv.as_slice() {
            return Err(format!(
                "auxv {:x?} but gdb says {:x?}",
                core.auxv(),
                gdb.auxv
            ));
        }
        let files: Vec<_> = core
            .mapped_files()
            .iter()
            .map(|f| (f.start, f.end, f.offset, f.path.clone()))
            .collect();
        if files != gdb.mappings {
            return Err(format!(
                "NT_FILE {files:x?} but gdb says {:x?}",
                gdb.mappings
            ));
        }
        let process = core.process().ok_or("no NT_PRPSINFO")?;
        if gdb.generated_by.as_deref() != Some(process.psargs.as_str()) {
            return Err(format!(
                "psargs {:?}, gdb says {:?}",
                process.psargs, gdb.generated_by
            ));
        }
        if process.fname != "bin" {
            return Err(format!("fname {:?}", process.fname));
        }
        let sig = core.signal().ok_or("no NT_SIGINFO")?;
        if Some(sig.signal_name()) != gdb.signal_name {
            return Err(format!(
                "signal {}, gdb says {:?}",
                sig.signal_name(),
                gdb.signal_name
            ));
        }
        if Some(sig.signo) != gdb.si_signo || Some(sig.code) != gdb.si_code {
            return Err(format!(
                "siginfo {sig:?}, gdb says signo {:?} code {:?}",
                gdb.si_signo, gdb.si_code
            ));
        }
        if sig.code <= 0 && sig.sender_pid != gdb.si_pid {
            return Err(format!(
                "sender pid {:?}, gdb says {:?}",
                sig.sender_pid, gdb.si_pid
            ));
        }
        if threads.first().map(|t| t.signal) != Some(sig.signo as u32) {
            return Err("the first thread is not the one that took the signal".into());
        }
        if threads.first().and_then(|t| t.siginfo.as_ref()) != Some(sig) {
            return Err("the dumping thread lacks its siginfo".into());
        }
        if !core.warnings().is_empty() {
            return Err(format!("warnings on an intact core: {:?}", core.warnings()));
        }
        Ok(())
    });
}

#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn notes_count_matches_readelf() {
    for_each_fixture(|fx| {
        let core = CoreFile::open(&fx.core()).map_err(|e| e.to_string())?;
        let out = Command::new("readelf")
            .args(["-n", "-W"])
            .arg(fx.core())
            .output()
            .map_err(|e| format!("readelf: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let prstatus = text.matches("NT_PRSTATUS").count();
        if prstatus != core.threads().len() {
            return Err(format!(
                "readelf sees {prstatus} NT_PRSTATUS, we see {} threads",
                core.threads().len()
            ));
        }
        for note in ["NT_PRPSINFO", "NT_SIGINFO", "NT_AUXV", "NT_FILE"] {
            if !text.contains(note) {
                return Err(format!("readelf sees no {note}"));
            }
        }
        Ok(())
    });
}

/// Addresses the runtime printed: `gp=`, `mp=` (g and m structures), `sp=` (stacks) and `pc=`
/// (text). All must be readable through the core, and text must equal the binary's bytes.
#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn traceback_addresses_are_readable() {
    for_each_fixture(|fx| {
        let mem = fx.memory();
        let exe = ElfImage::open(&fx.bin()).map_err(|e| e.to_string())?;
        let tb = std::fs::read_to_string(fx.dir.join("traceback.txt"))
            .map_err(|e| format!("traceback.txt: {e}"))?;
        let mut counts = HashMap::new();
        for word in tb.split_whitespace() {
            let Some((key, value)) = word.split_once("=0x") else {
                continue;
            };
            let Some(addr) = hex(value) else { continue };
            match key {
                "gp" | "mp" | "sp" | "fp" => {
                    mem.read_u64(addr).map_err(|e| format!("{word}: {e}"))?;
                }
                "pc" => {
                    let mut in_core = [0u8; 16];
                    mem.read_at(addr, &mut in_core)
                        .map_err(|e| format!("{word}: {e}"))?;
                    let file = exe
                        .data_from(addr.wrapping_sub(mem.bias()))
                        .ok_or_else(|| {
                            format!("{word}: not in the binary at bias {:#x}", mem.bias())
                        })?;
                    if file.get(..16) != Some(&in_core[..]) {
                        return Err(format!("{word}: text in the core differs from the binary"));
                    }
                }
                _ => continue,
            }
            *counts.entry(key.to_string()).or_insert(0usize) += 1;
        }
        // Go prints gp= and mp= since 1.23.
        let keys: &[&str] = if tb.contains(" gp=0x") {
            &["gp", "sp", "pc"]
        } else {
            &["sp", "pc"]
        };
        for &key in keys {
            if counts.get(key).copied().unwrap_or(0) == 0 {
                return Err(format!("traceback has no {key}= addresses"));
            }
        }
        Ok(())
    });
}

/// Text is not in the cores: reads of it come from the executable, at the PIE's load bias.
#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn text_comes_from_the_executable_at_the_bias() {
    let fixtures = core_fixtures();
    let mut pies = 0;
    for fx in &fixtures {
        let (core, exe) = fx.open();
        let bias = core.load_bias(&exe).expect("load bias");
        let entry = exe.entry;
        if exe.pie {
            pies += 1;
            assert_ne!(bias, 0, "{}: PIE loaded at its link address?", fx.id());
            assert_eq!(
                bias % 4096,
                0,
                "{}: bias {bias:#x} not page aligned",
                fx.id()
            );
            let at_entry = core.auxv().iter().find(|a| a.0 == 9).map(|a| a.1);
            assert_eq!(at_entry, Some(entry + bias), "{}", fx.id());
        } else {
            assert_eq!(bias, 0, "{}", fx.id());
        }
        // The entry point's page is beyond the first page of text: the core lacks it.
        let runtime_entry = entry.wrapping_add(bias);
        let err = core
            .read_u64(runtime_entry)
            .expect_err("text is not dumped by the kernel");
        assert_eq!(err.kind(), ErrorKind::Unreadable, "{}", fx.id());
        assert!(
            err.to_string().contains(&format!("{runtime_entry:#x}")),
            "{err}"
        );
        let mem = CoreMemory::new(core, &exe).expect("splice");
        let mut buf = [0u8; 64];
        mem.read_at(runtime_entry, &mut buf)
            .expect("entry through the executable");
        assert_eq!(
            &exe.data_from(entry).expect("entry in file")[..64],
            &buf[..],
            "{}",
            fx.id()
        );
        // A read that starts in the core's dumped first page and runs into text the core
        // lacks is served from both.
        let first = mem
            .core()
            .segments()
            .iter()
            .find(|s| s.addr <= runtime_entry && runtime_entry < s.addr + s.mem_size)
            .copied()
            .expect("text segment in the core");
        if first.file_size > 0 && first.file_size < first.mem_size {
            let straddle = first.addr + first.file_size - 8;
            let mut b = [0u8; 16];
            mem.read_at(straddle, &mut b).expect("straddling read");
            let file = exe.data_from(straddle - mem.bias()).expect("in file");
            assert_eq!(&file[..16], &b[..], "{}", fx.id());
        }
    }
    assert!(
        fixtures.iter().all(|f| f.variant != "pie") || pies > 0,
        "PIE fixtures not recognised as PIE"
    );
}

#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn a_core_of_another_binary_is_rejected() {
    let fixtures = core_fixtures();
    let mut checked = 0;
    for fx in &fixtures {
        let (core, exe) = fx.open();
        core.check_executable(&exe)
            .unwrap_or_else(|e| panic!("{}: its own binary rejected: {e}", fx.id()));
        // Pair with a different program of the same toolchain and variant, and with the same
        // program of another toolchain.
        let others = fixtures.iter().filter(|o| {
            o.variant == fx.variant && ((o.toolchain == fx.toolchain) != (o.program == fx.program))
        });
        for other in others.take(2) {
            let other_exe = ElfImage::open(&other.bin()).expect("other bin");
            let name = other.bin().display().to_string();
            let err = core
                .check_executable_named(&other_exe, &name)
                .expect_err(&format!("{} accepted {}", fx.id(), other.id()));
            let msg = err.to_string();
            assert!(
                msg.starts_with("core was dumped by a different binary"),
                "{msg}"
            );
            assert!(!msg.contains('\n'), "{msg}");
            checked += 1;
        }
        // CoreMemory::new refuses, new_unchecked does not.
        if let Some(other) = fixtures.iter().find(|o| {
            o.toolchain != fx.toolchain && o.variant == fx.variant && o.program == fx.program
        }) {
            let other_exe = ElfImage::open(&other.bin()).expect("other bin");
            let (core, _) = fx.open();
            assert!(CoreMemory::new(core, &other_exe).is_err());
            let (core, _) = fx.open();
            assert!(CoreMemory::new_unchecked(core, &other_exe).is_ok());
        }
    }
    assert!(checked > 0, "no pairs of fixtures to cross-check");
}

#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn the_build_id_message_names_both_ids() {
    let fixtures = core_fixtures();
    let a = fixtures
        .iter()
        .find(|f| f.variant == "default" && f.program == "crash")
        .expect("a crash-default fixture");
    let b = fixtures
        .iter()
        .find(|f| f.variant == "default" && f.program == "panics" && f.toolchain == a.toolchain)
        .expect("a panics-default fixture");
    let (core, _) = a.open();
    let exe_b = ElfImage::open(&b.bin()).expect("bin");
    let msg = core
        .check_executable_named(&exe_b, "B")
        .expect_err("different binary")
        .to_string();
    // Go binaries carry a Go build ID note in their first page; the core has that page.
    assert!(
        msg.contains("Go build ID") && msg.contains("in the core") && msg.contains(" in B"),
        "{msg}"
    );
}

// ---------------------------------------------------------------------------------------------
// Bad cores

fn read_fixture_core() -> (Vec<u8>, Fixture) {
    let fx = core_fixtures()
        .into_iter()
        .find(|f| f.program == "crash" && f.variant == "default")
        .expect("a crash-default fixture");
    (std::fs::read(fx.core()).expect("read core"), fx)
}

fn note_segment(core: &[u8]) -> (usize, usize) {
    let phoff = u64::from_le_bytes(core[0x20..0x28].try_into().unwrap()) as usize;
    let phnum = u16::from_le_bytes(core[0x38..0x3a].try_into().unwrap()) as usize;
    for i in 0..phnum {
        let ph = &core[phoff + i * 56..phoff + (i + 1) * 56];
        if u32::from_le_bytes(ph[0..4].try_into().unwrap()) == 4 {
            let off = u64::from_le_bytes(ph[8..16].try_into().unwrap()) as usize;
            let size = u64::from_le_bytes(ph[32..40].try_into().unwrap()) as usize;
            return (off, size);
        }
    }
    panic!("no PT_NOTE")
}

fn one_line(e: &Error) -> String {
    let msg = e.to_string();
    assert!(
        !msg.is_empty() && !msg.contains('\n'),
        "bad message {msg:?}"
    );
    msg
}

#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn truncated_core_at_half_warns_and_reads_what_remains() {
    let (data, fx) = read_fixture_core();
    let half = data.len() / 2;
    let core = CoreFile::parse(Blob::from_vec(data[..half].to_vec())).expect("half a core opens");
    let full = CoreFile::open(&fx.core()).expect("full core");
    assert_eq!(core.threads(), full.threads());
    let warning = core.warnings().join("; ");
    assert!(warning.contains("truncated"), "{warning:?}");
    // A segment wholly before the cut reads the same; one after it is unreadable, saying why.
    let mut before = 0;
    let mut after = 0;
    for seg in core.segments().iter().filter(|s| s.file_size >= 8) {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        let end = seg.file_offset + seg.file_size;
        if end <= half as u64 {
            core.read_at(seg.addr, &mut a).expect("before the cut");
            full.read_at(seg.addr, &mut b).expect("full core");
            assert_eq!(a, b);
            before += 1;
        } else if seg.file_offset >= half as u64 {
            let e = core.read_at(seg.addr, &mut a).expect_err("after the cut");
            assert_eq!(e.kind(), ErrorKind::Unreadable);
            assert!(one_line(&e).contains("truncated"), "{e}");
            after += 1;
        }
    }
    assert!(before > 0 && after > 0, "before {before} after {after}");
}

#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn truncated_notes_name_the_note() {
    let (data, _) = read_fixture_core();
    let (off, size) = note_segment(&data);
    for cut in [off + 10, off + 100, off + size / 2, off + size - 3] {
        let err =
            CoreFile::parse(Blob::from_vec(data[..cut].to_vec())).expect_err("notes cut short");
        assert_eq!(err.kind(), ErrorKind::Truncated, "cut at {cut:#x}: {err}");
        let msg = one_line(&err);
        assert!(msg.contains("truncated"), "{msg}");
        if cut > off + 100 {
            assert!(msg.contains("inside note "), "cut at {cut:#x}: {msg}");
        }
    }
}

#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn cut_anywhere_never_panics() {
    let (data, _) = read_fixture_core();
    let (off, size) = note_segment(&data);
    let mut cuts: Vec<usize> = (0..200).collect();
    cuts.extend((0..400).map(|i| off + i * size / 400));
    cuts.extend((1..50).map(|i| i * data.len() / 50));
    for cut in cuts {
        match CoreFile::parse(Blob::from_vec(data[..cut.min(data.len())].to_vec())) {
            Ok(core) => {
                let _ = core.read_u64(core.threads()[0].registers.sp());
            }
            Err(e) => {
                one_line(&e);
            }
        }
    }
}

#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn corrupt_notes_never_panic() {
    let (data, _) = read_fixture_core();
    let (off, size) = note_segment(&data);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for round in 0..300 {
        let mut copy = data[..off + size].to_vec();
        for _ in 0..1 + round % 8 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = off + (seed as usize) % size;
            copy[at] = (seed >> 32) as u8;
        }
        // Header corruption too, now and then.
        if round % 10 == 0 {
            let at = (seed as usize >> 8) % 64;
            copy[at] ^= 0xff;
        }
        match CoreFile::parse(Blob::from_vec(copy)) {
            Ok(core) => {
                for t in core.threads() {
                    let _ = core.read_u64(t.registers.sp());
                    let _ = t.registers.named();
                }
            }
            Err(e) => {
                one_line(&e);
            }
        }
    }
}

#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn not_a_core() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("memory");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let text = dir.join("text");
    std::fs::write(&text, b"hello, this is not an ELF file at all").expect("write");
    let e = CoreFile::open(&text).expect_err("text is no core");
    assert_eq!(e.kind(), ErrorKind::NotElf);
    assert!(one_line(&e).contains("is not an ELF file"), "{e}");

    let empty = dir.join("empty");
    std::fs::write(&empty, b"").expect("write");
    assert!(CoreFile::open(&empty).is_err());
    assert!(CoreFile::open(&dir).is_err());
    assert_eq!(
        CoreFile::open(&dir.join("missing"))
            .expect_err("missing")
            .kind(),
        ErrorKind::Io
    );

    let fx = &core_fixtures()[0];
    let e = CoreFile::open(&fx.bin()).expect_err("executable is no core");
    let msg = one_line(&e);
    assert!(
        msg == format!("{} is an executable, not a core file", fx.bin().display()),
        "{msg}"
    );
    // Cut inside the ELF header and the program headers.
    let data = std::fs::read(fx.core()).expect("read core");
    for cut in [3, 20, 63, 64, 100, 64 + 56 * 3 + 5] {
        let e = CoreFile::parse(Blob::from_vec(data[..cut].to_vec())).expect_err("cut short");
        one_line(&e);
    }
}

// ---------------------------------------------------------------------------------------------
// Synthetic cores: what the fixtures do not have (arm64, fault addresses, odd segments)

struct SynthCore {
    machine: u16,
    notes: Vec<(&'static [u8], u32, Vec<u8>)>,
    /// (vaddr, dumped bytes, mem size)
    loads: Vec<(u64, Vec<u8>, u64)>,
}

impl SynthCore {
    fn build(&self) -> Vec<u8> {
        let mut notes = Vec::new();
        for (owner, kind, desc) in &self.notes {
            notes.extend_from_slice(&(owner.len() as u32 + 1).to_le_bytes());
            notes.extend_from_slice(&(desc.len() as u32).to_le_bytes());
            notes.extend_from_slice(&kind.to_le_bytes());
            notes.extend_from_slice(owner);
            notes.push(0);
            while notes.len() % 4 != 0 {
                notes.push(0);
            }
            notes.extend_from_slice(desc);
            while notes.len() % 4 != 0 {
                notes.push(0);
            }
        }
        let phnum = 1 + self.loads.len();
        let mut offset = 64 + 56 * phnum;
        let mut out = vec![0u8; 64];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2;
        out[5] = 1;
        out[6] = 1;
        out[0x10..0x12].copy_from_slice(&4u16.to_le_bytes());
        out[0x12..0x14].copy_from_slice(&self.machine.to_le_bytes());
        out[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        out[0x34..0x36].copy_from_slice(&64u16.to_le_bytes());
        out[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        out[0x38..0x3a].copy_from_slice(&(phnum as u16).to_le_bytes());
        let mut ph = |kind: u32, flags: u32, off: usize, vaddr: u64, filesz: usize, memsz: u64| {
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&(off as u64).to_le_bytes());
            out.extend_from_slice(&vaddr.to_le_bytes());
            out.extend_from_slice(&0u64.to_le_bytes());
            out.extend_from_slice(&(filesz as u64).to_le_bytes());
            out.extend_from_slice(&memsz.to_le_bytes());
            out.extend_from_slice(&4u64.to_le_bytes());
        };
        ph(4, 0, offset, 0, notes.len(), 0);
        offset += notes.len();
        for (vaddr, bytes, memsz) in &self.loads {
            ph(1, 6, offset, *vaddr, bytes.len(), *memsz);
            offset += bytes.len();
        }
        out.extend_from_slice(&notes);
        for (_, bytes, _) in &self.loads {
            out.extend_from_slice(bytes);
        }
        out
    }
}

fn prstatus(lwp: u32, cursig: u16, regs: &[u64]) -> Vec<u8> {
    let mut d = vec![0u8; 112];
    d[12..14].copy_from_slice(&cursig.to_le_bytes());
    d[32..36].copy_from_slice(&lwp.to_le_bytes());
    for r in regs {
        d.extend_from_slice(&r.to_le_bytes());
    }
    d.extend_from_slice(&[0u8; 8]);
    d
}

fn siginfo(signo: i32, code: i32, field: u64) -> Vec<u8> {
    let mut d = vec![0u8; 128];
    d[0..4].copy_from_slice(&signo.to_le_bytes());
    d[8..12].copy_from_slice(&code.to_le_bytes());
    d[16..24].copy_from_slice(&field.to_le_bytes());
    d
}

#[test]
fn synthetic_arm64_core() {
    let regs: Vec<u64> = (0..34).map(|i| 0x1000 + i).collect();
    let mut psinfo = vec![0u8; 136];
    psinfo[1] = b'R';
    psinfo[24..28].copy_from_slice(&4242u32.to_le_bytes());
    psinfo[28..32].copy_from_slice(&1u32.to_le_bytes());
    psinfo[40..45].copy_from_slice(b"myapp");
    psinfo[56..70].copy_from_slice(b"./myapp -v foo");
    let mut file = Vec::new();
    for v in [2u64, 4096, 0x10000, 0x11000, 0, 0x20000, 0x22000, 3] {
        file.extend_from_slice(&v.to_le_bytes());
    }
    file.extend_from_slice(b"/bin/myapp\0/lib/libc.so\0");
    let mut auxv = Vec::new();
    for v in [9u64, 0x10100, 6, 4096, 0, 0] {
        auxv.extend_from_slice(&v.to_le_bytes());
    }
    let core = SynthCore {
        machine: 183,
        notes: vec![
            (b"CORE", 1, prstatus(4242, 11, &regs)),
            (b"CORE", 3, psinfo),
            (b"CORE", 0x5349_4749, siginfo(11, 1, 0xdead_beef)),
            (b"CORE", 6, auxv),
            (b"CORE", 0x4649_4c45, file),
            (b"LINUX", 0x401, 0x7fff_0000_1234u64.to_le_bytes().to_vec()),
            (b"CORE", 1, prstatus(4243, 0, &[7; 34])),
        ],
        loads: vec![
            (
                0x40_0000,
                (0..=255u8).cycle().take(0x2000).collect(),
                0x3000,
            ),
            (0x40_3000, vec![0xaa; 16], 16),
        ],
    }
    .build();
    let core = CoreFile::parse(Blob::from_vec(core)).expect("synthetic core");
    assert_eq!(core.arch(), Arch::Arm64);
    let t = core.threads();
    assert_eq!(t.len(), 2);
    assert_eq!((t[0].lwp, t[0].signal, t[1].lwp), (4242, 11, 4243));
    let r = &t[0].registers;
    assert_eq!(r.pc(), 0x1000 + 32);
    assert_eq!(r.sp(), 0x1000 + 31);
    assert_eq!(r.fp(), 0x1000 + 29);
    assert_eq!(r.lr(), Some(0x1000 + 30));
    assert_eq!(r.g_register(), 0x1000 + 28);
    assert_eq!(r.tls_base(), Some(0x7fff_0000_1234));
    assert_eq!(r.get("x0"), Some(0x1000));
    assert_eq!(r.get("pstate"), Some(0x1000 + 33));
    assert_eq!(r.named().len(), 35);
    assert_eq!(
        t[1].registers.tls_base(),
        None,
        "TLS belongs to the first thread only"
    );
    let sig = core.signal().expect("siginfo");
    assert_eq!(sig.signal_name(), "SIGSEGV");
    assert_eq!(sig.fault_addr, Some(0xdead_beef));
    assert_eq!(sig.sender_pid, None);
    assert!(sig.from_kernel());
    let p = core.process().expect("prpsinfo");
    assert_eq!((p.pid, p.ppid, p.state), (4242, 1, 'R'));
    assert_eq!(
        (p.fname.as_str(), p.psargs.as_str()),
        ("myapp", "./myapp -v foo")
    );
    let files = core.mapped_files();
    assert_eq!(files.len(), 2);
    assert_eq!(
        (files[1].start, files[1].end, files[1].offset),
        (0x20000, 0x22000, 3 * 4096)
    );
    assert_eq!(files[1].path, "/lib/libc.so");
    assert_eq!(core.auxv(), &[(9, 0x10100), (6, 4096)]);
    assert_eq!(core.auxv_value(9), Some(0x10100));

    // Memory: dumped bytes, the undumped tail of the mapping, the gap, the next segment.
    assert_eq!(core.read_u8(0x40_0005).unwrap(), 5);
    assert_eq!(core.read_u16(0x40_00fe).unwrap(), 0xfffe);
    assert_eq!(core.read_vec(0x40_1ffe, 2).unwrap(), vec![0xfe, 0xff]);
    let e = core.read_vec(0x40_1ffe, 4).expect_err("runs past the dump");
    assert_eq!(e.kind(), ErrorKind::Unreadable);
    assert!(
        e.to_string().contains("0x402000") && e.to_string().contains("did not dump"),
        "{e}"
    );
    assert!(core.read_u8(0x40_3000 - 1).is_err());
    assert_eq!(core.read_u64(0x40_3000).unwrap(), 0xaaaa_aaaa_aaaa_aaaa);
    let e = core.read_u8(0x50_0000).expect_err("unmapped");
    assert!(e.to_string().contains("not mapped"), "{e}");
    assert!(core.read_u8(u64::MAX).is_err());
    assert!(core.read_vec(u64::MAX - 3, 8).is_err());
}

#[test]
fn synthetic_amd64_signals_and_no_threads() {
    let regs: Vec<u64> = (0..27).collect();
    let mk = |code: i32, field: u64| {
        let bytes = SynthCore {
            machine: 62,
            notes: vec![
                (b"CORE", 1, prstatus(10, 6, &regs)),
                (b"CORE", 0x5349_4749, siginfo(6, code, field)),
            ],
            loads: vec![],
        }
        .build();
        CoreFile::parse(Blob::from_vec(bytes)).expect("core")
    };
    // tgkill from pid 77 (uid 0 in the upper half of the field).
    let c = mk(-6, 77);
    let s = c.signal().unwrap();
    assert_eq!(
        (s.signal_name().as_str(), s.sender_pid, s.fault_addr),
        ("SIGABRT", Some(77), None)
    );
    assert!(!s.from_kernel());
    let r = &c.threads()[0].registers;
    assert_eq!(
        (r.pc(), r.sp(), r.fp(), r.g_register(), r.tls_base()),
        (16, 19, 4, 1, Some(21))
    );
    assert_eq!(r.get("orig_rax"), Some(15));
    assert_eq!(r.get("gs"), Some(26));

    let none = SynthCore {
        machine: 62,
        notes: vec![(b"CORE", 0x5349_4749, siginfo(6, 0, 1))],
        loads: vec![],
    }
    .build();
    let e = CoreFile::parse(Blob::from_vec(none)).expect_err("no threads");
    assert!(one_line(&e).contains("no threads"), "{e}");

    let short = SynthCore {
        machine: 62,
        notes: vec![(b"CORE", 1, vec![0u8; 40])],
        loads: vec![],
    }
    .build();
    let e = CoreFile::parse(Blob::from_vec(short)).expect_err("short prstatus");
    assert!(one_line(&e).contains("NT_PRSTATUS"), "{e}");

    let mut other_arch = SynthCore {
        machine: 3,
        notes: vec![(b"CORE", 1, prstatus(10, 6, &regs))],
        loads: vec![],
    }
    .build();
    assert_eq!(
        CoreFile::parse(Blob::from_vec(other_arch.clone()))
            .unwrap_err()
            .kind(),
        ErrorKind::UnsupportedArch
    );
    other_arch[4] = 1;
    assert_eq!(
        CoreFile::parse(Blob::from_vec(other_arch))
            .unwrap_err()
            .kind(),
        ErrorKind::UnsupportedArch
    );
}

#[test]
fn backends_are_shareable_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<CoreFile>();
    send_sync::<CoreMemory>();
    send_sync::<ProcMemory>();
    send_sync::<PageCache<CoreMemory>>();
    send_sync::<PageCache<Box<dyn Memory>>>();
    send_sync::<VecMemory>();
}

#[test]
fn registers_by_name() {
    let mut r = Registers::new(Arch::Amd64);
    assert!(r.set("rip", 5) && r.set("rsp", 6) && r.set("r14", 7) && r.set("fs_base", 8));
    assert!(!r.set("x0", 1));
    assert_eq!(
        (r.pc(), r.sp(), r.g_register(), r.tls_base()),
        (5, 6, 7, Some(8))
    );
    assert_eq!(r.get("pc"), Some(5));
    let mut a = Registers::new(Arch::Arm64);
    assert!(a.set("x28", 9) && a.set("lr", 10) && a.set("tpidr_el0", 11));
    assert_eq!(
        (a.g_register(), a.lr(), a.tls_base()),
        (9, Some(10), Some(11))
    );
}

// ---------------------------------------------------------------------------------------------
// Live process, callbacks, caches, helpers

static KNOWN: [u8; 32] = *b"goscope: ProcMemory reads this.\0";

#[test]
fn proc_memory_reads_this_process() {
    let mem = ProcMemory::open(std::process::id()).expect("open /proc/self/mem");
    let addr = KNOWN.as_ptr() as u64;
    let mut buf = [0u8; 32];
    mem.read_at(addr, &mut buf).expect("read a static");
    assert_eq!(buf, KNOWN);
    assert_eq!(
        mem.read_cstr(addr, 100).unwrap(),
        "goscope: ProcMemory reads this."
    );
    let heap = vec![0x5au8; 100_000];
    assert_eq!(
        mem.read_vec(heap.as_ptr() as u64, heap.len()).unwrap(),
        heap
    );
    let e = mem.read_u64(8).expect_err("page zero is not mapped");
    assert_eq!(e.kind(), ErrorKind::Unreadable);
    assert!(mem.read_u64(u64::MAX - 4).is_err());

    let e = ProcMemory::open(0x3fff_fff0).expect_err("no such process");
    assert!(one_line(&e).contains("no such process"), "{e}");
}

#[test]
fn page_cache_returns_the_same_bytes() {
    // Regions with a gap and an end in the middle of a page.
    let a: Vec<u8> = (0..3 * 4096 + 100)
        .map(|i| (i * 7 + i / 4096) as u8)
        .collect();
    let b: Vec<u8> = (0..5000).map(|i| (i * 13) as u8).collect();
    let inner = VecMemory::new().with(0x10_0000, a).with(0x10_4000, b);
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = {
        let calls = calls.clone();
        let inner = inner.clone();
        CallbackMemory::new(move |addr, len| {
            calls.fetch_add(1, Ordering::Relaxed);
            inner.read_vec(addr, len)
        })
    };
    let cache = PageCache::with_capacity(counted, 64);
    let mut seed = 12345u64;
    for _ in 0..5000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let addr = 0x0f_f000 + (seed >> 33) % 0x7000;
        let len = ((seed >> 20) % 9000) as usize;
        let direct = inner.read_vec(addr, len);
        let cached = cache.read_vec(addr, len);
        match (&direct, &cached) {
            (Ok(d), Ok(c)) => assert_eq!(d, c, "{addr:#x}+{len}"),
            (Err(_), Err(e)) => assert_eq!(e.kind(), ErrorKind::Unreadable),
            _ => panic!("{addr:#x}+{len}: direct {direct:?} cached {cached:?}"),
        }
    }
    assert!(cache.cached_pages() <= 64);

    cache.clear();
    assert_eq!(cache.cached_pages(), 0);
    let before = calls.load(Ordering::Relaxed);
    assert_eq!(
        cache.read_u64(0x10_0010).unwrap(),
        inner.read_u64(0x10_0010).unwrap()
    );
    let after_miss = calls.load(Ordering::Relaxed);
    assert!(after_miss > before);
    cache.read_u64(0x10_0800).unwrap();
    cache.read_vec(0x10_0000, 4096).unwrap();
    assert_eq!(
        calls.load(Ordering::Relaxed),
        after_miss,
        "served from the cache"
    );
    cache.clear();
    cache.read_u64(0x10_0010).unwrap();
    assert!(
        calls.load(Ordering::Relaxed) > after_miss,
        "clear() dropped the page"
    );
}

#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn page_cache_over_a_core() {
    let fx = core_fixtures()
        .into_iter()
        .find(|f| f.program == "crash")
        .expect("a crash fixture");
    let mem = fx.memory();
    let cache = PageCache::new(&mem);
    let tb = std::fs::read_to_string(fx.dir.join("traceback.txt")).expect("traceback");
    for word in tb.split_whitespace() {
        let Some(addr) = word.split_once("=0x").and_then(|(_, v)| hex(v)) else {
            continue;
        };
        for len in [1usize, 8, 100, 5000] {
            let a = mem.read_vec(addr.saturating_sub(len as u64 / 2), len);
            let b = cache.read_vec(addr.saturating_sub(len as u64 / 2), len);
            assert_eq!(a.is_ok(), b.is_ok(), "{word}");
            if let (Ok(a), Ok(b)) = (a, b) {
                assert_eq!(a, b, "{word}");
            }
        }
    }
    assert!(cache.stats().0 > 0);
}

#[test]
fn typed_reads_and_strings() {
    let mut data = vec![0u8; 64];
    data[0..8].copy_from_slice(&0x2010u64.to_le_bytes()); // string header: ptr
    data[8..16].copy_from_slice(&5i64.to_le_bytes()); //                    len
    data[16..24].copy_from_slice(&0x2010u64.to_le_bytes());
    data[24..32].copy_from_slice(&(-1i64).to_le_bytes());
    data[32..40].copy_from_slice(&0x2010u64.to_le_bytes());
    data[40..48].copy_from_slice(&(1i64 << 40).to_le_bytes());
    let mut strings = vec![b'x'; 16];
    strings.extend_from_slice(b"hello\0world");
    let mem = VecMemory::new().with(0x1000, data).with(0x2000, strings);

    assert_eq!(mem.read_go_string(0x1000).unwrap(), "hello");
    assert_eq!(mem.read_go_string(0x1030).unwrap(), "");
    assert_eq!(
        mem.read_go_string(0x1010).unwrap_err().kind(),
        ErrorKind::Corrupt
    );
    let e = mem.read_go_string(0x1020).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt);
    one_line(&e);
    assert_eq!(mem.read_cstr(0x2010, 100).unwrap(), "hello");
    assert_eq!(mem.read_cstr(0x2010, 3).unwrap(), "hel");
    // No NUL before the region ends.
    assert!(mem.read_cstr(0x2016, 100).is_err());
    assert_eq!(mem.read_cstr(0x2016, 5).unwrap(), "world");
    assert_eq!(mem.read_u32(0x1000).unwrap(), 0x2010);
    assert_eq!(mem.read_i64(0x1018).unwrap(), -1);
    assert_eq!(mem.read_ptr(0x1000).unwrap(), 0x2010);
    let e = mem.read_vec(0x1000, 2 << 30).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt);
    assert!(mem.read_u64(0x103c).is_err(), "runs past the region");
    assert!(mem.read_u8(0x0fff).is_err());
    // Adjacent regions read as one.
    let joined = VecMemory::new()
        .with(0x10, vec![1, 2])
        .with(0x12, vec![3, 4]);
    assert_eq!(joined.read_vec(0x11, 3).unwrap(), vec![2, 3, 4]);
    // Through references, boxes and Arcs, as trait objects.
    let boxed: Box<dyn Memory> = Box::new(joined.clone());
    assert_eq!(boxed.read_u8(0x13).unwrap(), 4);
    let shared: Arc<dyn Memory> = Arc::new(joined);
    let by_ref: &dyn Memory = &shared;
    assert_eq!(by_ref.read_u16(0x10).unwrap(), 0x0201);
    assert_eq!(shared.read_u16(0x10).unwrap(), 0x0201);
}

/// Memory behind a debugger's callback is read only on the thread that asked: streaming
/// goroutines over it (which decodes on worker threads over other memory) calls the reader
/// from the calling thread alone, and lists exactly the goroutines of the runtime's own
/// traceback.
#[test]
#[ignore = "needs build/fixtures (python3 -m tests.harness.build); scripts/test runs it"]
fn callback_memory_is_read_on_the_calling_thread() {
    use std::collections::BTreeSet;
    let fixtures: Vec<Fixture> = core_fixtures()
        .into_iter()
        .filter(|f| f.program == "crash" && f.variant == "default")
        .collect();
    assert!(!fixtures.is_empty(), "no crash-default fixtures");
    for fx in &fixtures {
        let binary = Arc::new(goscope_core::Binary::open(&fx.bin()).expect("binary opens"));
        let (core, _) = fx.open();
        let threads = core.threads().to_vec();
        let inner = Arc::new(fx.memory());
        let bias = inner.bias();
        let readers = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
        let callback = {
            let readers = readers.clone();
            let inner = inner.clone();
            CallbackMemory::new(move |addr, len| {
                if let Ok(mut seen) = readers.lock() {
                    seen.insert(format!("{:?}", std::thread::current().id()));
                }
                inner.read_vec(addr, len)
            })
        };
        let memory: Arc<dyn Memory> = Arc::new(PageCache::new(callback));
        assert!(!memory.concurrent(), "{}", fx.id());
        let target = goscope_core::session::Target::from_parts(binary, memory, bias, threads)
            .unwrap_or_else(|e| panic!("{}: {e}", fx.id()));
        let mut out = Vec::new();
        goscope_core::report::write_goroutines_json(target.runtime(), &mut out, true, &|_| true)
            .expect("goroutines stream");
        let this = format!("{:?}", std::thread::current().id());
        let seen = readers.lock().expect("lock").clone();
        assert_eq!(
            seen,
            BTreeSet::from([this]),
            "{}: read from other threads",
            fx.id()
        );
        let doc: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        let listed: BTreeSet<u64> = doc["goroutines"]
            .as_array()
            .expect("goroutines")
            .iter()
            .filter_map(|g| g["id"].as_u64())
            .collect();
        let traceback = std::fs::read_to_string(fx.dir.join("traceback.txt")).expect("traceback");
        let expected: BTreeSet<u64> = traceback
            .lines()
            .filter_map(|l| l.strip_prefix("goroutine "))
            .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
            .collect();
        assert_eq!(listed, expected, "{}", fx.id());
    }
}
