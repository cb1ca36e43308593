//! The goroutines of the checked-in cores under tests/cores against the runtime's own traceback
//! of the same crash, stored beside each core: the test tier that needs no fixture matrix.
//!
//! Each `tests/cores/<toolchain>-<variant>/` holds `bin.zst` and `core.zst` (zstd), the
//! program's stderr `traceback.txt` (printed with `GOTRACEBACK=crash` just before the core was
//! written) and `meta.json`; `scripts/gen-core-tier` makes them from `tests/cores/program`.
//! For every goroutine the traceback prints, goscope must report the same id, state text
//! (wait reason or status, minutes, `locked to thread`), `gp=` and `m=` where they are
//! printed, the same frames in order (function, file:line, inlined or not, and `pc=`, `sp=`,
//! `fp=` and `+0x` where printed) and the same creator; and no goroutine the runtime did not
//! print. Every mismatch of every core is reported at once.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};

use goscope_core::binary::buildinfo::GoVersion;
use goscope_core::runtime::{state_text, Goroutine};
use goscope_core::session::Target;

// ---------------------------------------------------------------------------------------------
// The runtime's traceback

/// `\tFILE:LINE [+0xOFF] [fp=0x.. sp=0x.. pc=0x..]`.
#[derive(Debug)]
struct Position {
    file: String,
    line: i32,
    offset: Option<u64>,
    fp: Option<u64>,
    sp: Option<u64>,
    pc: Option<u64>,
}

#[derive(Debug)]
struct WantFrame {
    function: String,
    inlined: bool,
    at: Position,
}

#[derive(Debug)]
struct WantCreator {
    function: String,
    goid: Option<u64>,
    file: String,
    line: i32,
    offset: Option<u64>,
}

#[derive(Debug)]
struct WantGoroutine {
    id: u64,
    /// Everything between the header's brackets.
    state: String,
    gp: Option<u64>,
    /// `m=` as printed: `Some(None)` for `m=nil`, `None` when the header has no `m=` (Go 1.21).
    m: Option<Option<i64>>,
    frames: Vec<WantFrame>,
    created_by: Option<WantCreator>,
    stack_unavailable: bool,
}

fn hex(s: &str) -> Result<u64, String> {
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| format!("{s:?} is not 0x-hex"))?;
    u64::from_str_radix(digits, 16).map_err(|e| format!("{s:?}: {e}"))
}

/// `goroutine 17 gp=0x.. m=nil mp=0x.. [chan receive]:`; gp=, m= and mp= are absent before Go
/// 1.23.
fn parse_header(line: &str) -> Option<Result<WantGoroutine, String>> {
    let rest = line.strip_prefix("goroutine ")?;
    let (fields, state) = rest.strip_suffix("]:")?.split_once(" [")?;
    let mut words = fields.split(' ');
    let id = words.next()?.parse().ok()?;
    let mut g = WantGoroutine {
        id,
        state: state.to_string(),
        gp: None,
        m: None,
        frames: Vec::new(),
        created_by: None,
        stack_unavailable: false,
    };
    for word in words {
        let parsed = match word.split_once('=') {
            Some(("gp", v)) => hex(v).map(|v| g.gp = Some(v)),
            Some(("m", "nil")) => {
                g.m = Some(None);
                Ok(())
            }
            Some(("m", v)) => v
                .parse()
                .map(|v| g.m = Some(Some(v)))
                .map_err(|e| format!("m={v}: {e}")),
            Some(("mp", v)) => hex(v).map(|_| ()),
            _ => Err(format!("unknown header field {word:?}")),
        };
        if let Err(e) = parsed {
            return Some(Err(format!("{line:?}: {e}")));
        }
    }
    Some(Ok(g))
}

fn parse_position(line: &str) -> Result<Position, String> {
    let bad = || format!("not a file:line line: {line:?}");
    let body = line.strip_prefix('\t').ok_or_else(bad)?;
    let mut words = body.split(' ');
    let at = words.next().ok_or_else(bad)?;
    let (file, number) = at.rsplit_once(':').ok_or_else(bad)?;
    let mut pos = Position {
        file: file.to_string(),
        line: number.parse().map_err(|_| bad())?,
        offset: None,
        fp: None,
        sp: None,
        pc: None,
    };
    for word in words.filter(|w| !w.is_empty()) {
        if let Some(off) = word.strip_prefix('+') {
            pos.offset = Some(hex(off)?);
            continue;
        }
        match word.split_once('=') {
            Some(("fp", v)) => pos.fp = Some(hex(v)?),
            Some(("sp", v)) => pos.sp = Some(hex(v)?),
            Some(("pc", v)) => pos.pc = Some(hex(v)?),
            _ => return Err(bad()),
        }
    }
    Ok(pos)
}

/// `main.(*T).f[...](0x1, {0x2})` -> (`main.(*T).f[...]`, `0x1, {0x2}`): the argument list is
/// the last balanced group of parentheses on the line.
fn split_call(text: &str) -> Result<(&str, &str), String> {
    let body = text
        .strip_suffix(')')
        .ok_or_else(|| format!("not a frame line: {text:?}"))?;
    let mut depth = 1usize;
    for (i, c) in body.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    return Ok((&body[..i], &body[i + 1..]));
                }
            }
            _ => {}
        }
    }
    Err(format!("unbalanced parentheses: {text:?}"))
}

fn parse_block(lines: &[&str]) -> Result<WantGoroutine, String> {
    let (first, rest) = lines.split_first().ok_or("empty block")?;
    let mut g =
        parse_header(first).ok_or_else(|| format!("not a goroutine header: {first:?}"))??;
    let mut i = 0;
    while let Some(&line) = rest.get(i) {
        if line.trim() == "goroutine running on other thread; stack unavailable" {
            g.stack_unavailable = true;
            i += 1;
            continue;
        }
        if line.starts_with("...") && line.ends_with("elided...") {
            // The tier's program keeps its stacks shallow; a deep one is a change to review.
            return Err(format!("goroutine {}: {line:?} is not expected here", g.id));
        }
        let at = rest
            .get(i + 1)
            .ok_or_else(|| format!("goroutine {}: {line:?} without its position", g.id))
            .and_then(|l| parse_position(l))?;
        if let Some(creator) = line.strip_prefix("created by ") {
            let (function, goid) = match creator.split_once(" in goroutine ") {
                Some((f, id)) => (f, Some(id.parse().map_err(|e| format!("{line:?}: {e}"))?)),
                None => (creator, None),
            };
            g.created_by = Some(WantCreator {
                function: function.to_string(),
                goid,
                file: at.file,
                line: at.line,
                offset: at.offset,
            });
        } else {
            let (function, args) = split_call(line)?;
            g.frames.push(WantFrame {
                function: function.to_string(),
                inlined: args == "...",
                at,
            });
        }
        i += 2;
    }
    Ok(g)
}

/// Every goroutine block of a `GOTRACEBACK=crash` dump, by id. Lines outside the blocks (the
/// panic message, `[signal ...]`) are skipped; the reports other threads print after a
/// `-----` line are not part of the dump.
fn parse_traceback(text: &str) -> Result<BTreeMap<u64, WantGoroutine>, String> {
    let lines: Vec<&str> = text.lines().take_while(|l| *l != "-----").collect();
    let mut out = BTreeMap::new();
    let mut i = 0;
    while i < lines.len() {
        if parse_header(lines[i]).is_none() {
            i += 1;
            continue;
        }
        let end = lines[i..]
            .iter()
            .position(|l| l.is_empty())
            .map_or(lines.len(), |n| i + n);
        let g = parse_block(&lines[i..end])?;
        if out.contains_key(&g.id) {
            return Err(format!("goroutine {} is printed twice", g.id));
        }
        out.insert(g.id, g);
        i = end;
    }
    Ok(out)
}

/// The name the runtime prints for a symbol-table name: `panic` for `runtime.gopanic`, and a
/// generic function's type arguments as `[...]`.
fn printed_name(function: &str) -> String {
    if function == "runtime.gopanic" {
        return "panic".to_string();
    }
    match (function.find('['), function.rfind(']')) {
        (Some(first), Some(last)) if first < last => {
            format!("{}[...]{}", &function[..first], &function[last + 1..])
        }
        _ => function.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Comparison

#[derive(Default)]
struct Tally {
    goroutines: usize,
    goroutines_matched: usize,
    frames: usize,
    frames_matched: usize,
    problems: Vec<String>,
}

fn show(v: Option<u64>) -> String {
    v.map_or_else(|| "none".to_string(), |v| format!("{v:#x}"))
}

/// What differs between one printed value and goscope's, when the traceback prints it.
fn differs(what: &str, want: Option<u64>, got: Option<u64>, out: &mut Vec<String>) {
    if want.is_some() && want != got {
        out.push(format!("{what} {} != {}", show(got), show(want)));
    }
}

fn compare_frames(want: &WantGoroutine, got: &Goroutine, tally: &mut Tally) -> bool {
    let mut ok = true;
    for (index, w) in want.frames.iter().enumerate() {
        tally.frames += 1;
        let Some(f) = got.frames.get(index) else {
            tally.problems.push(format!(
                "goroutine {} frame {index} ({}): missing",
                want.id, w.function
            ));
            ok = false;
            continue;
        };
        let mut diff = Vec::new();
        let name = printed_name(&f.function);
        if name != w.function {
            diff.push(format!("function {name:?} != {:?}", w.function));
        }
        let at = &w.at;
        if (&*f.file, f.line) != (at.file.as_str(), at.line) {
            diff.push(format!(
                "at {}:{} != {}:{}",
                f.file, f.line, at.file, at.line
            ));
        }
        if f.inlined != w.inlined {
            diff.push(format!("inlined {} != {}", f.inlined, w.inlined));
        }
        differs("pc", at.pc, f.pc, &mut diff);
        differs("sp", at.sp, f.sp, &mut diff);
        differs("fp", at.fp, f.fp, &mut diff);
        differs("offset", at.offset, f.offset, &mut diff);
        if diff.is_empty() {
            tally.frames_matched += 1;
        } else {
            tally.problems.push(format!(
                "goroutine {} frame {index} ({}): {}",
                want.id,
                w.function,
                diff.join("; ")
            ));
            ok = false;
        }
    }
    if got.frames.len() != want.frames.len() {
        tally.problems.push(format!(
            "goroutine {}: {} frames, the traceback has {}",
            want.id,
            got.frames.len(),
            want.frames.len()
        ));
        ok = false;
    }
    ok
}

fn compare_creator(want: &WantGoroutine, got: &Goroutine, tally: &mut Tally) -> bool {
    let mine = got.created_by.as_ref().map(|c| {
        (
            printed_name(&c.function),
            c.goid,
            c.file.to_string(),
            c.line,
            c.offset,
        )
    });
    let wanted = want
        .created_by
        .as_ref()
        .map(|c| (c.function.clone(), c.goid, c.file.clone(), c.line, c.offset));
    if mine == wanted {
        return true;
    }
    tally.problems.push(format!(
        "goroutine {}: created by {mine:?} != {wanted:?}",
        want.id
    ));
    false
}

fn compare(want: &BTreeMap<u64, WantGoroutine>, got: &[Goroutine]) -> Tally {
    let mut tally = Tally {
        goroutines: want.len(),
        ..Tally::default()
    };
    let mut mine: BTreeMap<u64, &Goroutine> = BTreeMap::new();
    for g in got {
        if mine.insert(g.id, g).is_some() {
            tally
                .problems
                .push(format!("goroutine {}: reported twice", g.id));
        }
    }
    for id in mine.keys().filter(|id| !want.contains_key(id)) {
        tally.problems.push(format!(
            "goroutine {id}: reported by goscope, not by the runtime"
        ));
    }
    for (id, w) in want {
        let Some(g) = mine.get(id) else {
            tally
                .problems
                .push(format!("goroutine {id} [{}]: missing", w.state));
            tally.frames += w.frames.len();
            continue;
        };
        let mut ok = true;
        if let Some(e) = &g.error {
            tally.problems.push(format!("goroutine {id}: error {e:?}"));
            ok = false;
        }
        let state = state_text(g);
        if state != w.state {
            tally
                .problems
                .push(format!("goroutine {id}: state {state:?} != {:?}", w.state));
            ok = false;
        }
        if w.gp.is_some_and(|gp| gp != g.gp) {
            tally
                .problems
                .push(format!("goroutine {id}: gp {:#x} != {}", g.gp, show(w.gp)));
            ok = false;
        }
        if let Some(m) = w.m.filter(|&m| m != g.m) {
            let show_m = |m: Option<i64>| m.map_or_else(|| "nil".to_string(), |m| m.to_string());
            tally.problems.push(format!(
                "goroutine {id}: m={} != m={}",
                show_m(g.m),
                show_m(m)
            ));
            ok = false;
        }
        ok &= compare_creator(w, g, &mut tally);
        if !w.stack_unavailable {
            ok &= compare_frames(w, g, &mut tally);
        }
        if ok {
            tally.goroutines_matched += 1;
        }
    }
    tally
}

// ---------------------------------------------------------------------------------------------
// The cores

fn cores_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cores")
}

/// Every directory under tests/cores that holds a core; the program's sources hold none.
fn core_dirs() -> Vec<PathBuf> {
    let root = cores_dir();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|dir| dir.join("core.zst").is_file())
        .collect();
    dirs.sort();
    assert!(
        !dirs.is_empty(),
        "no cores under {} (scripts/gen-core-tier makes them)",
        root.display()
    );
    dirs
}

fn unzstd(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reader = std::io::BufReader::new(file);
    let mut decoder = ruzstd::decoding::StreamingDecoder::new(&mut reader)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    decoder
        .read_to_end(&mut out)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(out)
}

/// Decompresses a core and its executable into the test's scratch directory, where
/// `Target::open_core` maps them.
fn unpack(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), String> {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("checked_in_cores")
        .join(name);
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let unpack_one = |file: &str| -> Result<PathBuf, String> {
        let bytes = unzstd(&dir.join(format!("{file}.zst")))?;
        let path = scratch.join(file);
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    };
    Ok((unpack_one("core")?, unpack_one("bin")?))
}

/// One core against its traceback: the tally, or why the comparison could not be made.
fn check(dir: &Path, name: &str) -> Result<Tally, String> {
    let text = std::fs::read_to_string(dir.join("traceback.txt"))
        .map_err(|e| format!("traceback.txt: {e}"))?;
    let want = parse_traceback(&text).map_err(|e| format!("traceback.txt: {e}"))?;
    if want.is_empty() {
        return Err("traceback.txt prints no goroutine".into());
    }
    let meta =
        std::fs::read_to_string(dir.join("meta.json")).map_err(|e| format!("meta.json: {e}"))?;
    let meta: serde_json::Value =
        serde_json::from_str(&meta).map_err(|e| format!("meta.json: {e}"))?;
    let (core, bin) = unpack(dir, name)?;
    let target = Target::open_core(&core, &bin).map_err(|e| format!("cannot open: {e}"))?;
    let built = meta["go_version"].as_str().and_then(GoVersion::parse);
    if built.is_none() || target.binary().go_version() != built {
        return Err(format!(
            "the binary says it was built by {:?}, meta.json says {}",
            target.binary().go_version(),
            meta["go_version"]
        ));
    }
    Ok(compare(&want, &target.runtime().goroutines(true)))
}

#[test]
fn goroutines_match_the_runtime_traceback() {
    let mut report = String::new();
    let mut failed = 0;
    let dirs = core_dirs();
    for dir in &dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match check(dir, &name) {
            Ok(t) => {
                let _ = writeln!(
                    report,
                    "{name}: {}/{} goroutines, {}/{} frames match the runtime's traceback",
                    t.goroutines_matched, t.goroutines, t.frames_matched, t.frames
                );
                if !t.problems.is_empty() {
                    failed += 1;
                }
                for p in &t.problems {
                    let _ = writeln!(report, "  {p}");
                }
            }
            Err(e) => {
                failed += 1;
                let _ = writeln!(report, "{name}: {e}");
            }
        }
    }
    println!("{report}");
    assert!(
        failed == 0,
        "{failed} of {} cores differ:\n{report}",
        dirs.len()
    );
}

// ---------------------------------------------------------------------------------------------
// The parser itself

#[test]
fn parser_reads_headers_frames_and_creators() {
    let text = "panic: boom\n\n\
        goroutine 7 gp=0xc000007340 m=nil [chan receive, 3 minutes, locked to thread]:\n\
        runtime.gopark(0x0?, {0x1, 0x2})\n\
        \truntime/proc.go:462 +0xce fp=0xc00005e710 sp=0xc00005e6f0 pc=0x480dae\n\
        main.take(...)\n\
        \tgoscope.test/coretier/main.go:29\n\
        created by main.main in goroutine 1\n\
        \tgoscope.test/coretier/main.go:98 +0x67\n\
        \n\
        goroutine 1 [running]:\n\
        main.main()\n\
        \tmain.go:5 +0x1\n\
        -----\n\
        goroutine 0 [idle]:\n";
    let gs = parse_traceback(text).expect("a well-formed dump");
    assert_eq!(gs.keys().copied().collect::<Vec<_>>(), [1, 7]);
    let g = &gs[&7];
    assert_eq!(g.state, "chan receive, 3 minutes, locked to thread");
    assert_eq!((g.gp, g.m), (Some(0xc000007340), Some(None)));
    assert_eq!(g.frames.len(), 2);
    assert_eq!(g.frames[0].function, "runtime.gopark");
    assert!(!g.frames[0].inlined);
    assert_eq!(
        (g.frames[0].at.offset, g.frames[0].at.sp, g.frames[0].at.pc),
        (Some(0xce), Some(0xc00005e6f0), Some(0x480dae))
    );
    assert!(g.frames[1].inlined);
    assert_eq!((g.frames[1].at.line, g.frames[1].at.pc), (29, None));
    let c = g.created_by.as_ref().expect("a creator");
    assert_eq!(
        (c.function.as_str(), c.goid, c.line, c.offset),
        ("main.main", Some(1), 98, Some(0x67))
    );
    assert_eq!((gs[&1].gp, gs[&1].m), (None, None));
    assert_eq!(printed_name("runtime.gopanic"), "panic");
    assert_eq!(printed_name("main.f[go.shape.int]"), "main.f[...]");
}
