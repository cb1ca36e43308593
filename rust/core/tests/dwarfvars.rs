//! DWARF variables against oracles: a Go program built here prints, at run time, the addresses
//! of its locals (taken without letting them escape), the runtime type descriptor of each type
//! (the type word of an interface holding a value of it) and the pc of a call; `go tool nm`
//! gives the addresses and sizes of package variables. In a PIE build, run-time addresses are
//! link-time ones moved by the load bias, which the printed address of a package variable
//! gives.
//!
//! Toolchains: `$GOSCOPE_GO` (else `go` on PATH), plus every GOROOT in the colon-separated
//! `$GOSCOPE_TEST_GOROOTS`. Without a Go toolchain the tests fail.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use goscope_core::binary::dwarfvars::{DwarfVars, FrameVar, PieceLoc};
use goscope_core::Binary;

const PROGRAM: &str = r#"package main

import (
	"fmt"
	"runtime"
	"unsafe"
)

type T struct {
	A int
	B *T
	S string
}

type Names []string

var (
	gT       T
	gPT      *T
	gInts    []int
	gMap     map[string]*T
	gNames   Names
	gCounter = 7
	gBuf     [64]byte
)

// rtype is the type word of an interface: the runtime type descriptor of v's dynamic type.
func rtype(v any) uintptr { return (*[2]uintptr)(unsafe.Pointer(&v))[0] }

// g prints the pc of the call in its caller.
//
//go:noinline
func g(tag string) {
	var pcs [4]uintptr
	if runtime.Callers(2, pcs[:]) > 0 {
		fmt.Printf("pc %s %#x\n", tag, pcs[0]-1)
	}
}

//go:noinline
func f(arg *T, n int) int {
	x := T{A: n, B: arg}
	y := []int{n, n + 1}
	z := arg
	m := map[string]*T{"a": arg}
	s := "hello"
	w := Names{"a", "b"}
	// All addresses at one instant: a stack move between two of them would make them
	// disagree.
	addrs := [...]uintptr{
		uintptr(unsafe.Pointer(&x)), uintptr(unsafe.Pointer(&y)), uintptr(unsafe.Pointer(&z)),
		uintptr(unsafe.Pointer(&m)), uintptr(unsafe.Pointer(&s)), uintptr(unsafe.Pointer(&w)),
		uintptr(unsafe.Pointer(&arg)), uintptr(unsafe.Pointer(&n)),
	}
	names := [...]string{"x", "y", "z", "m", "s", "w", "arg", "n"}
	sizes := [...]uintptr{
		unsafe.Sizeof(x), unsafe.Sizeof(y), unsafe.Sizeof(z), unsafe.Sizeof(m),
		unsafe.Sizeof(s), unsafe.Sizeof(w), unsafe.Sizeof(arg), unsafe.Sizeof(n),
	}
	for i := range addrs {
		fmt.Printf("var f %s %#x %d\n", names[i], addrs[i], sizes[i])
	}
	// i's scope, the loop, has ended at the call below.
	g("f")
	r := h(arg)
	return x.A + len(y) + z.A + len(m) + len(s) + len(w) + arg.A + n + r
}

// h is small enough to be inlined into f when optimizing.
func h(p *T) int {
	hp, hn := p, p.A+1
	hcall(uintptr(unsafe.Pointer(&hp)), uintptr(unsafe.Pointer(&hn)))
	return hp.A + hn
}

//go:noinline
func hcall(a, b uintptr) {
	var pcs [4]uintptr
	if runtime.Callers(2, pcs[:]) > 0 {
		fmt.Printf("var h hp %#x 8\nvar h hn %#x 8\npc h %#x\n", a, b, pcs[0]-1)
	}
}

func main() {
	for _, v := range []any{T{}, (*T)(nil), []int(nil), map[string]*T(nil), "", Names(nil), 0, gBuf} {
		fmt.Printf("type %T %#x\n", v, rtype(v))
	}
	fmt.Printf("global main.gT %#x\n", uintptr(unsafe.Pointer(&gT)))
	gPT = &gT
	gInts = []int{1}
	gMap = map[string]*T{"x": gPT}
	gNames = Names{"n"}
	gBuf[0] = 1
	fmt.Println(f(gPT, gCounter))
}
"#;

/// The Go type of each printed local, by name.
const LOCAL_TYPES: &[(&str, &str)] = &[
    ("x", "main.T"),
    ("y", "[]int"),
    ("z", "*main.T"),
    ("m", "map[string]*main.T"),
    ("s", "string"),
    ("w", "main.Names"),
    ("arg", "*main.T"),
    ("n", "int"),
    ("hp", "*main.T"),
    ("hn", "int"),
];

/// Variables Go's optimized DWARF may leave without a location at the call: an
/// address-taken argument is described only in its register at entry, and an inlined
/// function's variable may have no location at all. Without optimization none is lost.
const MAY_BE_LOST: &[&str] = &["arg", "n", "hn"];

/// The Go type of each package variable.
const GLOBAL_TYPES: &[(&str, &str)] = &[
    ("main.gT", "main.T"),
    ("main.gPT", "*main.T"),
    ("main.gInts", "[]int"),
    ("main.gMap", "map[string]*main.T"),
    ("main.gNames", "main.Names"),
    ("main.gCounter", "int"),
    ("main.gBuf", "[64]uint8"),
];

struct Toolchain {
    label: String,
    go: PathBuf,
}

/// The default toolchain and those named by `$GOSCOPE_TEST_GOROOTS`.
fn toolchains() -> Vec<Toolchain> {
    let default = std::env::var_os("GOSCOPE_GO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("go"));
    let mut out = vec![Toolchain {
        label: "default".into(),
        go: default,
    }];
    if let Some(roots) = std::env::var_os("GOSCOPE_TEST_GOROOTS") {
        for root in std::env::split_paths(&roots) {
            if root.as_os_str().is_empty() {
                continue;
            }
            out.push(Toolchain {
                label: root.display().to_string(),
                go: root.join("bin").join("go"),
            });
        }
    }
    for tc in &mut out {
        let version = go_cmd(tc).arg("version").output().unwrap_or_else(|e| {
            panic!(
                "no Go toolchain at {} ({e}): install Go or set GOSCOPE_GO / GOSCOPE_TEST_GOROOTS",
                tc.go.display()
            )
        });
        assert!(
            version.status.success(),
            "{} version failed: {}",
            tc.go.display(),
            String::from_utf8_lossy(&version.stderr)
        );
        tc.label = String::from_utf8_lossy(&version.stdout).trim().to_string();
    }
    out
}

fn go_cmd(tc: &Toolchain) -> Command {
    let mut cmd = Command::new(&tc.go);
    // The toolchain named, never one it would fetch; a static, non-PIE executable.
    cmd.env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "")
        .env("GO111MODULE", "on");
    if tc.go.is_absolute() {
        if let Some(root) = tc.go.parent().and_then(Path::parent) {
            cmd.env("GOROOT", root);
        }
    }
    cmd
}

fn work_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("goscope-dwarfvars-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("main.go"), PROGRAM).expect("write main.go");
    std::fs::write(
        dir.join("go.mod"),
        "module example.com/dwarfvars\n\ngo 1.21\n",
    )
    .expect("write go.mod");
    dir
}

fn build(tc: &Toolchain, dir: &Path, out: &str, extra: &[&str]) -> PathBuf {
    let bin = dir.join(out);
    let result = go_cmd(tc)
        .current_dir(dir)
        .args(["build", "-o"])
        .arg(&bin)
        .args(extra)
        .arg(".")
        .output()
        .expect("run go build");
    assert!(
        result.status.success(),
        "{}: go build {extra:?} failed: {}",
        tc.label,
        String::from_utf8_lossy(&result.stderr)
    );
    bin
}

/// What the program printed.
#[derive(Default)]
struct Printed {
    /// Type descriptor address by type name (`%T`).
    types: HashMap<String, u64>,
    /// The run-time address of `main.gT`.
    global: Option<u64>,
    /// Per group ("f", "h"): the pc of the call and each variable's address and size.
    pcs: HashMap<String, u64>,
    vars: HashMap<String, Vec<(String, u64, u64)>>,
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex number")
}

fn run(bin: &Path) -> Printed {
    let out = Command::new(bin).output().expect("run the test program");
    assert!(out.status.success(), "{} failed", bin.display());
    let mut p = Printed::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["type", name, addr] => {
                p.types.insert(name.to_string(), hex(addr));
            }
            ["global", "main.gT", addr] => p.global = Some(hex(addr)),
            ["pc", group, pc] => {
                p.pcs.insert(group.to_string(), hex(pc));
            }
            ["var", group, name, addr, size] => p
                .vars
                .entry(group.to_string())
                .or_default()
                .push((name.to_string(), hex(addr), size.parse().expect("size"))),
            _ => {}
        }
    }
    p
}

/// `go tool nm -size` lines: address, size, kind, name.
fn nm(tc: &Toolchain, bin: &Path) -> Vec<(u64, u64, String, String)> {
    let out = go_cmd(tc)
        .args(["tool", "nm", "-size"])
        .arg(bin)
        .output()
        .expect("go tool nm");
    assert!(out.status.success(), "go tool nm failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let addr = u64::from_str_radix(w.next()?, 16).ok()?;
            let size = w.next()?.parse().ok()?;
            let kind = w.next()?.to_string();
            let name = w.collect::<Vec<_>>().join(" ");
            Some((addr, size, kind, name))
        })
        .collect()
}

fn expected_type(table: &[(&str, &'static str)], name: &str) -> &'static str {
    table
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .unwrap_or_else(|| panic!("no expected type for {name}"))
}

/// Checks one group of printed locals against `frame_vars` at the group's pc; returns the
/// CFA they imply.
fn check_group(
    what: &str,
    vars: &DwarfVars,
    printed: &Printed,
    group: &str,
    optimized: bool,
    problems: &mut Vec<String>,
) -> Option<u64> {
    let pc = *printed.pcs.get(group)?;
    let frame: Vec<FrameVar> = vars.frame_vars(pc);
    let mut cfas: Vec<(String, u64)> = Vec::new();
    for (name, addr, size) in printed.vars.get(group).map(Vec::as_slice).unwrap_or(&[]) {
        let Some(var) = frame.iter().find(|v| &v.name == name) else {
            if optimized && MAY_BE_LOST.contains(&name.as_str()) {
                continue;
            }
            problems.push(format!(
                "{what}: {name} missing at pc {pc:#x}; have {:?}",
                frame.iter().map(|v| &v.name).collect::<Vec<_>>()
            ));
            continue;
        };
        let ty = expected_type(LOCAL_TYPES, name);
        if var.type_name != ty {
            problems.push(format!(
                "{what}: {name} has type {:?}, want {ty}",
                var.type_name
            ));
        }
        if var.size != *size {
            problems.push(format!("{what}: {name} size {}, want {size}", var.size));
        }
        let want_rtype = printed.types.get(ty).copied();
        if want_rtype.is_some() && var.rtype != want_rtype {
            problems.push(format!(
                "{what}: {name} rtype {:x?}, the runtime says {want_rtype:x?}",
                var.rtype
            ));
        }
        // Its address was taken, so it lives in memory for its whole lifetime.
        match var.pieces.as_slice() {
            [p] if p.offset == 0 && p.size == *size => match p.loc {
                PieceLoc::Cfa(off) => match addr.checked_add_signed(off.wrapping_neg()) {
                    Some(cfa) => cfas.push((name.clone(), cfa)),
                    None => problems.push(format!("{what}: {name} offset {off} overflows")),
                },
                other => problems.push(format!("{what}: {name} at {other:?}, not in the frame")),
            },
            other => problems.push(format!("{what}: {name} pieces {other:?}")),
        }
    }
    if cfas.is_empty() {
        problems.push(format!("{what}: no variable of {group} found in its frame"));
    }
    let first = cfas.first().map(|c| c.1);
    if cfas.iter().any(|c| Some(c.1) != first) {
        problems.push(format!(
            "{what}: the variables imply different CFAs: {:x?}",
            cfas
        ));
    }
    first
}

fn check_toolchain(tc: &Toolchain, index: usize, problems: &mut Vec<String>) {
    let dir = work_dir(&index.to_string());
    let opt = build(tc, &dir, "opt", &["-buildmode=exe"]);
    let dbg = build(tc, &dir, "dbg", &["-buildmode=exe", "-gcflags=all=-N -l"]);
    let pie = build(tc, &dir, "pie", &["-buildmode=pie"]);
    for (variant, bin) in [("optimized", &opt), ("-N -l", &dbg), ("PIE", &pie)] {
        let what = format!("{} {variant}", tc.label);
        let mut printed = run(bin);
        let binary = Binary::open(bin).expect("open the test binary");
        let start = std::time::Instant::now();
        let vars = DwarfVars::load(&binary)
            .expect("DWARF loads")
            .expect("the binary has DWARF");
        eprintln!("{what}: loaded in {:?}", start.elapsed());
        let symbols = nm(tc, bin);
        // Back to link-time addresses: the load bias is where main.gT is against where nm
        // puts it (zero unless PIE).
        let gt = symbols.iter().find(|s| s.3 == "main.gT").map(|s| s.0);
        let bias = match (printed.global, gt) {
            (Some(run), Some(link)) => run.wrapping_sub(link),
            _ => panic!("{what}: no address of main.gT"),
        };
        if variant != "PIE" {
            assert_eq!(bias, 0, "{what}: a non-PIE binary moved");
        }
        for addr in printed.types.values_mut().chain(printed.pcs.values_mut()) {
            *addr = addr.wrapping_sub(bias);
        }

        // Package variables: every data symbol of package main is a global at the same
        // address, with the symbol's size.
        let mut checked = 0;
        for (addr, size, kind, name) in &symbols {
            let data = matches!(kind.as_str(), "D" | "B" | "d" | "b");
            let plain = name
                .strip_prefix("main.")
                .is_some_and(|rest| !rest.starts_with('.') && !rest.contains(['.', '·']));
            if !data || !plain {
                continue;
            }
            checked += 1;
            match vars.globals().iter().find(|g| &g.name == name) {
                None => problems.push(format!("{what}: global {name} missing")),
                Some(g) => {
                    if g.addr != *addr {
                        problems.push(format!("{what}: {name} at {:#x}, nm {addr:#x}", g.addr));
                    }
                    if g.size != *size {
                        problems.push(format!("{what}: {name} size {}, nm {size}", g.size));
                    }
                }
            }
        }
        if checked < GLOBAL_TYPES.len() {
            problems.push(format!(
                "{what}: only {checked} package variables of main in the symbol table"
            ));
        }
        for (name, ty) in GLOBAL_TYPES {
            let Some(g) = vars.globals().iter().find(|g| &g.name == name) else {
                problems.push(format!("{what}: global {name} missing"));
                continue;
            };
            if g.type_name != *ty {
                problems.push(format!("{what}: {name} type {:?}, want {ty}", g.type_name));
            }
            let want = printed.types.get(*ty).copied();
            if want.is_none() || g.rtype != want {
                problems.push(format!(
                    "{what}: {name} rtype {:x?}, the runtime says {want:x?}",
                    g.rtype
                ));
            }
        }

        // Frame variables of f at its call to g, and of h (inlined into f when optimizing)
        // at its call to hcall.
        let optimized = variant != "-N -l";
        let cfa = check_group(&what, &vars, &printed, "f", optimized, problems);
        check_group(&what, &vars, &printed, "h", optimized, problems);
        for group in ["f", "h"] {
            if !printed.pcs.contains_key(group) {
                problems.push(format!("{what}: the program printed no pc for {group}"));
            }
        }
        // The ABI's anchor for the CFA: the first argument's home is its spill slot, the
        // first word above the return address, which is the CFA.
        let arg = printed
            .vars
            .get("f")
            .and_then(|v| v.iter().find(|(n, _, _)| n == "arg"))
            .map(|v| v.1);
        let arg_known = printed
            .pcs
            .get("f")
            .is_some_and(|pc| vars.frame_vars(*pc).iter().any(|v| v.name == "arg"));
        if arg_known && cfa.is_some() && cfa != arg {
            problems.push(format!(
                "{what}: CFA {cfa:x?}, but the first argument's home is {arg:x?}"
            ));
        }
        if !optimized {
            // The loop variable's block has ended at the call.
            let pc = printed.pcs.get("f").copied().unwrap_or(0);
            if vars.frame_vars(pc).iter().any(|v| v.name == "i") {
                problems.push(format!(
                    "{what}: f's loop variable i is out of scope at the call"
                ));
            }
        } else {
            // Only a real check of inlined variables when h was inlined into f.
            let f = symbols.iter().find(|s| s.3 == "main.f");
            let pc = printed.pcs.get("h").copied().unwrap_or(0);
            if !f.is_some_and(|f| f.0 <= pc && pc < f.0 + f.1) {
                problems.push(format!("{what}: h was not inlined into f"));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn package_and_frame_variables_match_the_running_program() {
    let mut problems = Vec::new();
    for (i, tc) in toolchains().iter().enumerate() {
        check_toolchain(tc, i, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_dwarf_is_none_and_bad_dwarf_does_not_panic() {
    let tc = toolchains().into_iter().next().expect("a toolchain");
    let dir = work_dir("bad");
    let stripped = build(&tc, &dir, "stripped", &["-ldflags=-w"]);
    let binary = Binary::open(&stripped).expect("open");
    assert!(
        DwarfVars::load(&binary).expect("no error").is_none(),
        "a binary linked with -w has no DWARF"
    );

    // Uncompressed DWARF, so that flipped bytes reach the parser rather than zlib.
    let plain = build(&tc, &dir, "plain", &["-ldflags=-compressdwarf=false"]);
    let data = std::fs::read(&plain).expect("read");
    let file = object::File::parse(data.as_slice()).expect("ELF");
    let mut info = Vec::new();
    let mut lists = Vec::new();
    for name in [
        ".debug_info",
        ".debug_abbrev",
        ".debug_loclists",
        ".debug_loc",
    ] {
        use object::{Object, ObjectSection};
        if let Some((off, len)) = file.section_by_name(name).and_then(|s| s.file_range()) {
            if len > 0 {
                let range = (off as usize, len as usize);
                if name.contains("loc") {
                    lists.push(range);
                } else {
                    info.push(range);
                }
            }
        }
    }
    assert!(
        !info.is_empty() && !lists.is_empty(),
        "uncompressed DWARF sections found"
    );
    let pcs: Vec<u64> = {
        let binary = Binary::open(&plain).expect("open");
        binary.functions().map(|(_, entry, _)| entry + 1).collect()
    };
    // A fixed pseudo-random walk: odd rounds flip bytes of the entries (mostly a load
    // error), even rounds bytes of the location lists (read only when a frame asks). Each
    // mutant loads to a value or an error, and every function's variables can be asked for.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let (mut loaded, mut failed, mut found) = (0, 0, 0);
    for round in 0..32 {
        let targets = if round % 2 == 0 { &lists } else { &info };
        let mut bad = data.clone();
        for _ in 0..4 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let (off, len) = targets[(seed as usize) % targets.len()];
            let at = off + (seed >> 20) as usize % len;
            bad[at] ^= (seed >> 8) as u8 | 1;
        }
        let Ok(binary) = Binary::from_bytes(bad) else {
            continue;
        };
        match DwarfVars::load(&binary) {
            Ok(Some(vars)) => {
                loaded += 1;
                found += vars.globals().len();
                for pc in &pcs {
                    found += vars.frame_vars(*pc).len();
                }
            }
            Ok(None) => {}
            Err(_) => failed += 1,
        }
    }
    eprintln!("mutants: {loaded} loaded ({found} variables), {failed} rejected");
    assert!(
        loaded > 0,
        "no mutant loaded: the location lists were not exercised"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dwarf_vars_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<DwarfVars>();
}
