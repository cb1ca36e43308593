//! Listings of goroutines written as they are decoded: chunks of goroutines decoded and
//! encoded (JSON items, traceback text, one line each) on several threads at once, handed to
//! the writer in `allgs` order, so 100,000 goroutines never sit in memory at once.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::encode::Encoder;
use super::text::{self, TextOptions};
use crate::runtime::unwind::Code;
use crate::runtime::{FrameCache, Goroutine, Limits, Runtime, UserCode, MAX_GOROUTINES};
use crate::target::MemoryExt;

/// Goroutines decoded and encoded together when a listing is written out.
const CHUNK: u64 = 2048;

/// How a listing of goroutines is written out.
#[derive(Debug, Clone, Copy)]
pub enum Format<'a> {
    /// Items of the JSON contract's `goroutines` array.
    Json,
    /// Stacks in the traceback format, separated by blank lines.
    Text(TextOptions),
    /// One line per goroutine: id, state, where it is, who created it.
    List(TextOptions, &'a UserCode, Option<u64>),
}

impl Format<'_> {
    /// What precedes every item; the listing's first item drops the first `drop` bytes.
    fn separator(self) -> (&'static [u8], usize) {
        match self {
            Format::Json => (b",\n", 1),
            Format::Text(_) => (b"\n\n", 2),
            Format::List(..) => (b"\n", 1),
        }
    }
}

/// Threads that decode and encode goroutines for a listing, at most.
const MAX_WORKERS: usize = 4;

/// What one worker keeps from chunk to chunk: function lookups, symbolized frames, and
/// the encoders' memory of names.
struct ChunkState<'a> {
    code: Code<'a>,
    cache: FrameCache,
    enc: Writers,
    /// Bytes the largest chunk so far took, shared by the workers, for sizing the next.
    hint: &'a AtomicUsize,
}

impl<'a> ChunkState<'a> {
    fn new(rt: &'a Runtime, hint: &'a AtomicUsize) -> Self {
        ChunkState {
            hint,
            code: Code::new(rt.binary().pclntab(), rt.bias(), rt.binary().image().arch),
            cache: FrameCache::default(),
            enc: Writers::default(),
        }
    }
}

/// The encoders of one chunk, with what they remember of the goroutines before.
#[derive(Default)]
struct Writers {
    json: Encoder,
    text: text::Renderer,
}

/// Goroutines encoded one after the other, each preceded by its format's separator.
#[derive(Default)]
struct EncodedChunk {
    /// The `allgs` slots decoded: `start..end`.
    start: u64,
    end: u64,
    bytes: Vec<u8>,
    /// Where the chunk stood after each goroutine decoded, so that a listing can end at any
    /// of them.
    marks: Vec<Mark>,
    /// Goroutines decoded (filtered out or not).
    decoded: usize,
    goroutines: usize,
    errors: usize,
    /// The goroutine list ended early (unreadable): nothing after this chunk.
    stop: bool,
}

/// An encoded chunk up to one decoded goroutine: the next slot, and the bytes, goroutines
/// and errors written until then.
#[derive(Debug, Clone, Copy)]
struct Mark {
    next_slot: u64,
    bytes: usize,
    goroutines: usize,
    errors: usize,
}

/// What a listing wrote: goroutines shown, shown with an error, read (filtered out or
/// not), and left unread by the limit.
#[derive(Debug, Clone, Copy, Default)]
struct Streamed {
    shown: usize,
    errors: usize,
    read: usize,
    not_read: u64,
}

impl EncodedChunk {
    fn push(&mut self, enc: &mut Writers, g: &Goroutine, format: Format) -> std::io::Result<()> {
        self.bytes.extend_from_slice(format.separator().0);
        match format {
            Format::Json => enc.json.goroutine(&mut self.bytes, g)?,
            Format::Text(opts) => enc.text.stack(&mut self.bytes, g, opts),
            Format::List(opts, user, current) => {
                text::list_line(&mut self.bytes, g, user, opts.color, current == Some(g.id))
            }
        }
        self.goroutines = self.goroutines.saturating_add(1);
        self.errors = self.errors.saturating_add(usize::from(g.error.is_some()));
        Ok(())
    }
}

/// Writes `{"go_version": ..., "goroutines": [...]}` (the JSON contract) in `allgs`
/// order, within the listing limits; when goroutines were left unread, the object ends
/// with `"not_read": N`. `keep` filters; returns how many were written and how many of
/// those carry an error (could not be read entirely).
pub fn write_goroutines_json(
    rt: &Runtime,
    out: &mut dyn std::io::Write,
    with_stacks: bool,
    keep: &(dyn Fn(&Goroutine) -> bool + Sync),
) -> std::io::Result<(usize, usize)> {
    let version = rt
        .binary()
        .build_info()
        .ok()
        .map(|b| b.go_version.clone())
        .unwrap_or_default();
    write!(out, "{{\"go_version\": ")?;
    serde_json::to_writer(&mut *out, &version)?;
    write!(out, ", \"goroutines\": [")?;
    let streamed = stream(rt, with_stacks, keep, Format::Json, &mut |b| {
        out.write_all(b)
    })?;
    write!(out, "\n]")?;
    if streamed.not_read > 0 {
        write!(out, ", \"not_read\": {}", streamed.not_read)?;
    }
    writeln!(out, "}}")?;
    Ok((streamed.shown, streamed.errors))
}

/// Writes every goroutine's stack in the traceback format, in `allgs` order, handing
/// the text to `out` in pieces of many goroutines; a note at the end says how many
/// goroutines the limits left unread. Returns what `write_goroutines_json` returns.
pub fn write_stacks_text(
    rt: &Runtime,
    out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    opts: TextOptions,
    keep: &(dyn Fn(&Goroutine) -> bool + Sync),
) -> std::io::Result<(usize, usize)> {
    let streamed = stream(rt, true, keep, Format::Text(opts), out)?;
    let mut tail = Vec::new();
    if streamed.shown > 0 {
        tail.push(b'\n');
    }
    if streamed.not_read > 0 {
        if streamed.shown > 0 {
            tail.push(b'\n');
        }
        text::not_read_line(&mut tail, streamed.not_read, opts.color);
        tail.push(b'\n');
    }
    if !tail.is_empty() {
        out(&tail)?;
    }
    Ok((streamed.shown, streamed.errors))
}

/// Writes one line per goroutine `keep` accepts (id, state, where it is in `user`'s
/// code, who created it; `*` marks `current`), then a count line, and how many goroutines
/// the limits left unread. Returns how many were shown, how many of those carry an
/// error, and how many goroutines were read.
pub fn write_listing_text(
    rt: &Runtime,
    out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    opts: TextOptions,
    user: &UserCode,
    current: Option<u64>,
    keep: &(dyn Fn(&Goroutine) -> bool + Sync),
) -> std::io::Result<(usize, usize, usize)> {
    let streamed = stream(rt, true, keep, Format::List(opts, user, current), out)?;
    let mut tail = Vec::new();
    if streamed.shown > 0 {
        tail.push(b'\n');
    }
    text::count_line(&mut tail, streamed.shown, streamed.read, opts.color);
    tail.push(b'\n');
    if streamed.not_read > 0 {
        text::not_read_line(&mut tail, streamed.not_read, opts.color);
        tail.push(b'\n');
    }
    out(&tail)?;
    Ok((streamed.shown, streamed.errors, streamed.read))
}

/// Decodes and encodes goroutines in chunks on several threads at once and hands the
/// chunks to `emit` in order, so memory stays bounded by two chunks per thread. Reads at
/// most `limits().max_goroutines` goroutines.
fn stream(
    rt: &Runtime,
    with_stacks: bool,
    keep: &(dyn Fn(&Goroutine) -> bool + Sync),
    format: Format<'_>,
    emit: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<Streamed> {
    let mut done = Streamed::default();
    let hint = &AtomicUsize::new(0);
    let skip = format.separator().1;
    let limits = rt.limits();
    let wanted = usize::try_from(limits.goroutines()).unwrap_or(usize::MAX);
    // The allgs slot after the last goroutine read, once the limit is reached.
    let mut cut: Option<u64> = None;
    let mut emit = |mut chunk: EncodedChunk| -> std::io::Result<bool> {
        if done.read.saturating_add(chunk.decoded) >= wanted {
            // Keep the goroutines up to the limit; the rest of the chunk goes unread.
            let room = wanted.saturating_sub(done.read);
            let (next, bytes, goroutines, errors) = match room.checked_sub(1) {
                Some(last) => match chunk.marks.get(last) {
                    Some(m) => (m.next_slot, m.bytes, m.goroutines, m.errors),
                    None => (chunk.end, chunk.bytes.len(), chunk.goroutines, chunk.errors),
                },
                None => (chunk.start, 0, 0, 0),
            };
            chunk.bytes.truncate(bytes);
            chunk.decoded = room;
            chunk.goroutines = goroutines;
            chunk.errors = errors;
            chunk.stop = true;
            cut = Some(next);
        }
        // The listing's first item has no separator before it.
        let bytes = if done.shown == 0 {
            chunk.bytes.get(skip..).unwrap_or(&[])
        } else {
            &chunk.bytes[..]
        };
        if chunk.goroutines > 0 {
            emit(bytes)?;
        }
        done.shown = done.shown.saturating_add(chunk.goroutines);
        done.errors = done.errors.saturating_add(chunk.errors);
        done.read = done.read.saturating_add(chunk.decoded);
        Ok(chunk.stop)
    };
    if let Some(g) = rt.allgs_failure() {
        let mut chunk = EncodedChunk::default();
        chunk.push(&mut Writers::default(), &g, format)?;
        emit(chunk)?;
        return Ok(done);
    }
    let total = rt.allgs().1.min(MAX_GOROUTINES);
    // A small limit reads in small chunks: the workers decode ahead of the writer.
    let size = (limits.goroutines().saturating_add(63) & !63).clamp(64, CHUNK);
    let chunks = total.div_ceil(size);
    // Worker w encodes chunks w, w + N, w + 2N, ... and hands each over through a
    // channel of its own that holds one: taking from the workers in turn restores
    // `allgs` order, and memory stays bounded by two chunks per worker. This thread
    // writes while the workers encode.
    if !rt.memory().concurrent() {
        // Memory only this thread may read: decode here, one chunk at a time.
        let mut state = ChunkState::new(rt, hint);
        for c in 0..chunks {
            let range = chunk_range(c, size, total);
            let chunk = encode_chunk(rt, &mut state, range, with_stacks, keep, format, &limits)?;
            if emit(chunk)? {
                break;
            }
        }
        if let Some(next) = cut {
            done.not_read = rt.live_goroutines(next..total);
        }
        return Ok(done);
    }
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, MAX_WORKERS) as u64;
    std::thread::scope(|scope| -> std::io::Result<()> {
        let mut inboxes = Vec::new();
        for w in 0..workers.min(chunks) {
            let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<EncodedChunk>>(1);
            inboxes.push(rx);
            scope.spawn(move || {
                let mut state = ChunkState::new(rt, hint);
                let mut c = w;
                while c < chunks {
                    let range = chunk_range(c, size, total);
                    let chunk =
                        encode_chunk(rt, &mut state, range, with_stacks, keep, format, &limits);
                    // The reader has gone (an error, or the list ended early): stop.
                    if tx.send(chunk).is_err() {
                        return;
                    }
                    c = c.saturating_add(workers);
                }
            });
        }
        for c in 0..chunks {
            let Some(w) = c.checked_rem(workers) else {
                break;
            };
            let Some(inbox) = usize::try_from(w).ok().and_then(|w| inboxes.get(w)) else {
                break;
            };
            let chunk = inbox
                .recv()
                .map_err(|_| std::io::Error::other("internal error while decoding goroutines"))??;
            if emit(chunk)? {
                break;
            }
            if w.saturating_add(1) == workers {
                rt.memory().trim();
            }
        }
        // Dropping the inboxes ends workers still encoding chunks nobody will read.
        drop(inboxes);
        Ok(())
    })?;
    if let Some(next) = cut {
        done.not_read = rt.live_goroutines(next..total);
    }
    Ok(done)
}

/// The `allgs` slots of chunk `c` of `size` slots, of `total` in all (`c * size < total`,
/// so nothing here overflows).
fn chunk_range(c: u64, size: u64, total: u64) -> std::ops::Range<u64> {
    let start = c.saturating_mul(size);
    start..start.saturating_add(size).min(total)
}

/// Decodes `allgs[range]` and encodes the goroutines `keep` accepts.
fn encode_chunk(
    rt: &Runtime,
    state: &mut ChunkState<'_>,
    range: std::ops::Range<u64>,
    with_stacks: bool,
    keep: &(dyn Fn(&Goroutine) -> bool + Sync),
    format: Format<'_>,
    limits: &Limits,
) -> std::io::Result<EncodedChunk> {
    let ChunkState {
        code,
        cache,
        enc,
        hint,
    } = state;
    let mut chunk = EncodedChunk {
        start: range.start,
        end: range.end,
        ..EncodedChunk::default()
    };
    // Sized like the largest chunk so far: growing a buffer of megabytes by doubling
    // would copy it again and again.
    chunk.bytes.reserve(hint.load(Ordering::Relaxed));
    let (ptr, len) = rt.allgs();
    for i in range {
        let gp = match rt.memory().read_ptr(ptr.wrapping_add(i.wrapping_mul(8))) {
            Ok(g) => g,
            Err(e) => {
                // The rest of the array is as unreadable as this slot: say so once.
                let g = Goroutine::failed(
                    0,
                    &e.context(&format!("goroutine list entries {i}..{len} are unreadable")),
                );
                chunk.push(enc, &g, format)?;
                chunk.stop = true;
                break;
            }
        };
        if gp == 0 {
            continue;
        }
        if let Some(g) = rt.goroutine_at(code, gp, with_stacks, cache, limits) {
            chunk.decoded = chunk.decoded.saturating_add(1);
            if keep(&g) {
                chunk.push(enc, &g, format)?;
            }
            chunk.marks.push(Mark {
                next_slot: i.saturating_add(1),
                bytes: chunk.bytes.len(),
                goroutines: chunk.goroutines,
                errors: chunk.errors,
            });
        }
    }
    let size = chunk.bytes.len().saturating_add(chunk.bytes.len() / 8);
    hint.fetch_max(size, Ordering::Relaxed);
    Ok(chunk)
}
