//! Goroutine stacks as text, in the Go runtime's traceback format, for `go bt` and
//! `goscope bt`:
//!
//! ```text
//! goroutine 20 gp=0xc000007340 m=nil [chan receive]:
//! runtime.gopark
//!     /usr/lib/go/src/runtime/proc.go:462 +0xce fp=0xc00005e710 sp=0xc00005e6f0 pc=0x480dae
//! main.handle(...)
//!     /src/main.go:172
//! created by main.main in goroutine 1
//!     /src/main.go:77 +0x2f
//! ```
//!
//! Inlined calls are `function(...)` with no pc of their own, as in Go's tracebacks; goscope
//! knows no argument values, so a physical frame is just its function's name. Rendered here
//! rather than in Python so that 100,000 stacks print in about a second.

use std::io::Write;
use std::sync::Arc;

use crate::fasthash::FastMap;
use crate::runtime::{state_text, Frame, Goroutine, UserCode};

/// How stacks are printed.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextOptions {
    /// ANSI colours (the command line on a terminal, GDB with `set style enabled on`).
    pub color: bool,
    /// Also print a running goroutine's frames on its thread's system stacks (g0, gsignal).
    pub system: bool,
}

#[derive(Clone, Copy)]
enum Role {
    Label,
    Heading,
    Address,
    Error,
    Dim,
    Emphasis,
}

impl Role {
    fn code(self) -> &'static str {
        match self {
            Role::Heading | Role::Emphasis => "1",
            Role::Label => "36",
            Role::Address => "34",
            Role::Error => "31",
            Role::Dim => "2",
        }
    }
}

struct Painter<'a> {
    out: &'a mut Vec<u8>,
    color: bool,
}

impl Painter<'_> {
    /// Writes `text` in `role`'s colour; nothing around empty text.
    fn paint(&mut self, role: Role, text: std::fmt::Arguments<'_>) {
        if !self.color {
            let _ = self.out.write_fmt(text);
            return;
        }
        let start = self.out.len();
        let _ = write!(self.out, "\x1b[{}m", role.code());
        let body = self.out.len();
        let _ = self.out.write_fmt(text);
        if self.out.len() == body {
            self.out.truncate(start);
        } else {
            self.out.extend_from_slice(b"\x1b[0m");
        }
    }

    fn raw(&mut self, text: std::fmt::Arguments<'_>) {
        let _ = self.out.write_fmt(text);
    }
}

/// `0x..`, or `?` when the value is unknown.
struct Hex(Option<u64>);

impl std::fmt::Display for Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(v) => write!(f, "{v:#x}"),
            None => f.write_str("?"),
        }
    }
}

/// `file:line`, `?` standing for an unknown file.
struct Position<'a>(&'a str, i32);

impl std::fmt::Display for Position<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let file = if self.0.is_empty() { "?" } else { self.0 };
        write!(f, "{file}:{}", self.1)
    }
}

/// Appends one goroutine's stack, ending without a newline.
pub fn render_stack(out: &mut Vec<u8>, g: &Goroutine, opts: TextOptions) {
    render(&mut Renderer::default(), out, g, opts);
}

/// A record of the goroutine list itself (no goroutine: gp 0, id 0) that could not be read:
/// printed as its error alone, since there is no goroutine to head.
fn list_error(g: &Goroutine) -> Option<&str> {
    (g.gp == 0 && g.id == 0)
        .then_some(())
        .and(g.error.as_deref())
        .filter(|e| !e.is_empty())
}

/// The id a goroutine's text starts with: `?` for a record that could not be read (id 0,
/// which no goroutine has); None, with the error painted, for a record of the list itself.
fn shown_id(p: &mut Painter<'_>, g: &Goroutine) -> Option<String> {
    if let Some(e) = list_error(g) {
        p.paint(Role::Error, format_args!("error: {e}"));
        return None;
    }
    Some(
        if g.id == 0 && g.error.as_deref().is_some_and(|e| !e.is_empty()) {
            "?".to_string()
        } else {
            g.id.to_string()
        },
    )
}

fn render(r: &mut Renderer, out: &mut Vec<u8>, g: &Goroutine, opts: TextOptions) {
    let mut p = Painter {
        out,
        color: opts.color,
    };
    let Some(id) = shown_id(&mut p, g) else {
        return;
    };
    let state = state_text(g);
    match g.m {
        Some(m) => p.paint(
            Role::Heading,
            format_args!(
                "goroutine {id} gp={:#x} m={m} mp={} [{state}]:",
                g.gp,
                Hex(g.mp)
            ),
        ),
        None => p.paint(
            Role::Heading,
            format_args!("goroutine {id} gp={:#x} m=nil [{state}]:", g.gp),
        ),
    }
    if opts.system {
        for f in &g.system_frames {
            r.frame(&mut p, f, true);
        }
    } else if !g.system_frames.is_empty() {
        let n = g.system_frames.len();
        p.raw(format_args!("\n"));
        p.paint(
            Role::Dim,
            format_args!(
                "({n} frame{} of the thread's system stack above this goroutine not shown; \
                 -s shows them)",
                if n == 1 { "" } else { "s" }
            ),
        );
    }
    for f in &g.frames {
        r.frame(&mut p, f, false);
    }
    if g.more_frames > 0 {
        // The frame limit cut the stack short; an error past it may hide even more.
        let n = g.more_frames;
        let least = if g.error.is_some() { "at least " } else { "" };
        p.raw(format_args!("\n"));
        p.paint(
            Role::Dim,
            format_args!(
                "(... {least}{n} more frame{} not shown: raise max-frames to see them)",
                if n == 1 { "" } else { "s" }
            ),
        );
    }
    if let Some(c) = &g.created_by {
        p.raw(format_args!("\ncreated by {}", or_unknown(&c.function)));
        if let Some(goid) = c.goid {
            p.raw(format_args!(" in goroutine {goid}"));
        }
        p.raw(format_args!("\n\t{}", Position(&c.file, c.line)));
        if let Some(off) = c.offset.filter(|&o| o > 0) {
            p.raw(format_args!(" +{off:#x}"));
        }
    }
    if !g.labels.is_empty() {
        let mut shown = String::new();
        for (i, (k, v)) in g.labels.iter().enumerate() {
            if i > 0 {
                shown.push_str(", ");
            }
            shown.push_str(k);
            shown.push('=');
            shown.push_str(v);
        }
        p.raw(format_args!("\n"));
        p.paint(Role::Dim, format_args!("labels: {shown}"));
    }
    if let Some(e) = g.error.as_deref().filter(|e| !e.is_empty()) {
        p.raw(format_args!("\n"));
        p.paint(Role::Error, format_args!("error: {e}"));
    } else if g.frames.is_empty() {
        p.raw(format_args!("\n"));
        p.paint(Role::Dim, format_args!("(no frames)"));
    }
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() {
        "?"
    } else {
        s
    }
}

/// Renders stacks, remembering the text of frames' heads (function and file:line) by the
/// addresses of their shared names: goroutines parked at the same place print the same
/// lines.
#[derive(Default)]
pub struct Renderer {
    heads: FastMap<HeadKey, Head>,
}

/// A frame's head text, with the names whose addresses key it (kept so they stay unique).
type Head = (Arc<str>, Arc<str>, Box<[u8]>);

/// A frame's function and file (by address), line, inlined or not, on a system stack or not.
type HeadKey = (usize, usize, i32, bool, bool);

impl Renderer {
    /// Appends one goroutine's stack, ending without a newline.
    pub fn stack(&mut self, out: &mut Vec<u8>, g: &Goroutine, opts: TextOptions) {
        render(self, out, g, opts);
    }

    fn frame(&mut self, p: &mut Painter<'_>, f: &Frame, system: bool) {
        let key = (
            Arc::as_ptr(&f.function) as *const u8 as usize,
            Arc::as_ptr(&f.file) as *const u8 as usize,
            f.line,
            f.inlined,
            system,
        );
        if let Some((_, _, head)) = self.heads.get(&key) {
            p.out.extend_from_slice(head);
        } else {
            let mut head = Vec::new();
            let mut h = Painter {
                out: &mut head,
                color: p.color,
            };
            h.raw(format_args!("\n"));
            let function = or_unknown(&f.function);
            if f.inlined {
                h.paint(Role::Emphasis, format_args!("{function}(...)"));
            } else {
                h.paint(Role::Emphasis, format_args!("{function}"));
            }
            if system {
                h.paint(Role::Dim, format_args!("  [system stack]"));
            }
            h.raw(format_args!("\n\t{}", Position(&f.file, f.line)));
            p.out.extend_from_slice(&head);
            let value = (
                Arc::clone(&f.function),
                Arc::clone(&f.file),
                head.into_boxed_slice(),
            );
            self.heads.insert(key, value);
        }
        if f.inlined {
            return;
        }
        if let Some(off) = f.offset.filter(|&o| o > 0) {
            p.out.extend_from_slice(b" +");
            hex(p.out, off);
        }
        for (key, value) in [(&b" fp="[..], f.fp), (b" sp=", f.sp), (b" pc=", f.pc)] {
            if let Some(v) = value {
                p.out.extend_from_slice(key);
                if p.color {
                    p.out.extend_from_slice(b"\x1b[");
                    p.out.extend_from_slice(Role::Address.code().as_bytes());
                    p.out.push(b'm');
                    hex(p.out, v);
                    p.out.extend_from_slice(b"\x1b[0m");
                } else {
                    hex(p.out, v);
                }
            }
        }
    }
}

/// `0x` and lowercase hex digits, as `{:#x}` writes them.
fn hex(out: &mut Vec<u8>, v: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 16];
    let mut i = buf.len();
    let mut v = v;
    loop {
        // 16 digits hold any u64; the loop stops at 0 in any case.
        i = i.saturating_sub(1);
        if let Some(slot) = buf.get_mut(i) {
            *slot = DIGITS.get((v & 0xf) as usize).copied().unwrap_or(b'0');
        }
        v >>= 4;
        if v == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(b"0x");
    out.extend_from_slice(buf.get(i..).unwrap_or(&[]));
}

/// One line of a goroutine listing: `*` for the current goroutine, the id, `[state]`, where it
/// is (function and file:line) and who created it; an error last.
pub fn list_line(out: &mut Vec<u8>, g: &Goroutine, user: &UserCode, color: bool, current: bool) {
    let mut p = Painter { out, color };
    let Some(id) = shown_id(&mut p, g) else {
        return;
    };
    p.raw(format_args!("{}{id:>6} ", if current { "*" } else { " " }));
    p.paint(Role::Label, format_args!("[{}]", state_text(g)));
    let mut first = true;
    let mut sep = |p: &mut Painter<'_>| {
        p.raw(format_args!("{}", if first { " " } else { "  " }));
        first = false;
    };
    if let Some(f) = user.where_frame(g) {
        sep(&mut p);
        p.paint(Role::Emphasis, format_args!("{}", f.function));
        p.raw(format_args!(" {}", Position(&f.file, f.line)));
    }
    if let Some(c) = &g.created_by {
        sep(&mut p);
        match c.goid {
            Some(goid) => p.paint(
                Role::Dim,
                format_args!("created by {} in goroutine {goid}", or_unknown(&c.function)),
            ),
            None => p.paint(
                Role::Dim,
                format_args!("created by {}", or_unknown(&c.function)),
            ),
        }
    }
    if let Some(e) = g.error.as_deref().filter(|e| !e.is_empty()) {
        p.raw(format_args!("  "));
        p.paint(Role::Error, format_args!("error: {e}"));
    }
}

/// The note that ends a listing the goroutine limit cut short: how many goroutines were not
/// read.
pub fn not_read_line(out: &mut Vec<u8>, not_read: u64, color: bool) {
    let mut p = Painter { out, color };
    let s = if not_read == 1 { "" } else { "s" };
    p.paint(
        Role::Dim,
        format_args!("({not_read} more goroutine{s} not read: raise max-goroutines to read them)"),
    );
}

/// `N goroutines`, or `N of M goroutines` when filters left some out.
pub fn count_line(out: &mut Vec<u8>, shown: usize, total: usize, color: bool) {
    let mut p = Painter { out, color };
    if shown == total {
        let s = if total == 1 { "" } else { "s" };
        p.paint(Role::Dim, format_args!("{total} goroutine{s}"));
    } else {
        p.paint(Role::Dim, format_args!("{shown} of {total} goroutines"));
    }
}
