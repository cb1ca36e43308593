//! The runtime target's input: a process image made of the threads' registers and runs of
//! memory, laid over a real executable the way a core lies over its executable.
//!
//! ```text
//! u8  executable (index into the loaded executables, modulo their number)
//! u8  thread count (modulo MAX_THREADS + 1)
//! per thread: u32 lwp, u8 signal, u8 flags (1: has siginfo), i32 si_signo, i32 si_code,
//!             u64 si_addr (fault address, or the sender's pid when si_code <= 0),
//!             u64 pc, sp, frame pointer, g register, thread pointer
//! u64 load bias (used for position-independent executables only)
//! then memory runs until the input ends: u64 address, u32 length, the bytes
//! ```
//!
//! Where no run covers an address, the executable's own bytes are read (its file-backed
//! segments, zeros for .bss), as goscope reads a core that left them out; anything else is
//! unreadable. Runs are what a core holds: .data and .bss, heap arenas, stacks, the
//! runtime's off-heap structures.

use std::sync::Arc;

use goscope_core::binary::elf::Arch;
use goscope_core::bytes::Blob;
use goscope_core::target::{Memory, Registers, SignalInfo, Thread};
use goscope_core::{Error, ErrorKind, Result};

use crate::elfbytes::ProgramHeader;

pub const MAX_THREADS: usize = 16;
/// More runs than any real core has segments worth of pages touched by one walk.
pub const MAX_RUNS: usize = 1 << 14;

/// Reads fixed-size fields from the front of an input; past its end every field is zero.
pub struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Cursor { data }
    }

    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        head
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let head = self.bytes(N);
        if let Some(dst) = out.get_mut(..head.len()) {
            dst.copy_from_slice(head);
        }
        out
    }

    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    pub fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.array())
    }

    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Where the unread part starts, relative to `base` (the whole input).
    fn offset_in(&self, base: &[u8]) -> usize {
        base.len() - self.data.len()
    }
}

/// One thread as the input describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadSpec {
    pub lwp: u32,
    pub signal: u8,
    pub siginfo: Option<(i32, i32, u64)>,
    pub pc: u64,
    pub sp: u64,
    pub fp: u64,
    pub g: u64,
    pub tls: u64,
}

impl ThreadSpec {
    fn read(c: &mut Cursor<'_>) -> ThreadSpec {
        let lwp = c.u32();
        let signal = c.u8();
        let flags = c.u8();
        let (signo, code, addr) = (c.i32(), c.i32(), c.u64());
        ThreadSpec {
            lwp,
            signal,
            siginfo: (flags & 1 != 0).then_some((signo, code, addr)),
            pc: c.u64(),
            sp: c.u64(),
            fp: c.u64(),
            g: c.u64(),
            tls: c.u64(),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.lwp.to_le_bytes());
        out.push(self.signal);
        let (signo, code, addr) = self.siginfo.unwrap_or_default();
        out.push(u8::from(self.siginfo.is_some()));
        out.extend_from_slice(&signo.to_le_bytes());
        out.extend_from_slice(&code.to_le_bytes());
        out.extend_from_slice(&addr.to_le_bytes());
        for v in [self.pc, self.sp, self.fp, self.g, self.tls] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// The thread as goscope's core reader would have made it.
    pub fn thread(&self, arch: Arch) -> Thread {
        let mut registers = Registers::new(arch);
        let names = match arch {
            Arch::Amd64 => ["rip", "rsp", "rbp", "r14", "fs_base"],
            Arch::Arm64 => ["pc", "sp", "x29", "x28", "tpidr_el0"],
        };
        for (name, value) in names
            .iter()
            .zip([self.pc, self.sp, self.fp, self.g, self.tls])
        {
            registers.set(name, value);
        }
        let siginfo = self.siginfo.map(|(signo, code, addr)| SignalInfo {
            signo,
            errno: 0,
            code,
            fault_addr: (code > 0).then_some(addr),
            sender_pid: (code <= 0).then_some(addr as i32),
            sender_uid: (code <= 0).then_some(0),
        });
        Thread {
            lwp: self.lwp,
            signal: u32::from(self.signal),
            pending: 0,
            blocked: 0,
            registers,
            siginfo,
        }
    }

    /// The fields of a core's thread that the input can carry.
    pub fn of(t: &Thread) -> ThreadSpec {
        let r = &t.registers;
        ThreadSpec {
            lwp: t.lwp,
            signal: u8::try_from(t.signal).unwrap_or(u8::MAX),
            siginfo: t.siginfo.as_ref().map(|s| {
                let addr = s
                    .fault_addr
                    .or_else(|| s.sender_pid.map(|p| p as u32 as u64))
                    .unwrap_or(0);
                (s.signo, s.code, addr)
            }),
            pc: r.pc(),
            sp: r.sp(),
            fp: r.fp(),
            g: r.g_register(),
            tls: r.tls_base().unwrap_or(0),
        }
    }
}

/// A decoded input.
#[derive(Debug, Clone, Default)]
pub struct ProcessImage {
    pub selector: u8,
    pub threads: Vec<ThreadSpec>,
    pub bias: u64,
    /// (address, offset of its bytes in the input, length).
    pub runs: Vec<(u64, usize, usize)>,
}

impl ProcessImage {
    pub fn decode(data: &[u8]) -> ProcessImage {
        let mut c = Cursor::new(data);
        let selector = c.u8();
        let count = usize::from(c.u8()) % (MAX_THREADS + 1);
        let threads = (0..count).map(|_| ThreadSpec::read(&mut c)).collect();
        let bias = c.u64();
        let mut runs = Vec::new();
        while !c.is_empty() && runs.len() < MAX_RUNS {
            let addr = c.u64();
            let len = c.u32() as usize;
            let at = c.offset_in(data);
            let bytes = c.bytes(len);
            if !bytes.is_empty() {
                runs.push((addr, at, bytes.len()));
            }
        }
        ProcessImage {
            selector,
            threads,
            bias,
            runs,
        }
    }

    /// An input from its parts (seeds).
    pub fn encode(
        selector: u8,
        threads: &[ThreadSpec],
        bias: u64,
        runs: &[(u64, &[u8])],
    ) -> Vec<u8> {
        let threads = threads
            .get(..threads.len().min(MAX_THREADS))
            .unwrap_or_default();
        let mut out = vec![selector, threads.len() as u8];
        for t in threads {
            t.write(&mut out);
        }
        out.extend_from_slice(&bias.to_le_bytes());
        for (addr, bytes) in runs {
            out.extend_from_slice(&addr.to_le_bytes());
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(bytes);
        }
        out
    }
}

/// What the executable holds at a link-time address.
enum Backing<'a> {
    File(&'a [u8]),
    Zero(u64),
}

/// The input's memory runs over the executable's loadable segments.
pub struct ImageMemory {
    input: Vec<u8>,
    /// (address, offset in `input`, length): sorted, without overlaps.
    runs: Vec<(u64, usize, usize)>,
    exe: Blob,
    loads: Vec<ProgramHeader>,
    bias: u64,
}

impl ImageMemory {
    pub fn new(
        input: &[u8],
        image: &ProcessImage,
        exe: Blob,
        loads: &[ProgramHeader],
        bias: u64,
    ) -> Self {
        let mut runs = image.runs.clone();
        runs.sort_by_key(|r| r.0);
        // Of overlapping runs the one at the lower address keeps the shared bytes.
        let mut kept: Vec<(u64, usize, usize)> = Vec::with_capacity(runs.len());
        for (addr, off, len) in runs {
            let (mut addr, mut off, mut len) = (addr, off, len);
            if let Some(&(pa, _, pl)) = kept.last() {
                let prev_end = pa.saturating_add(pl as u64);
                if addr < prev_end {
                    let cut = (prev_end - addr).min(len as u64) as usize;
                    addr = prev_end;
                    off += cut;
                    len -= cut;
                }
            }
            // A run reaching past the top of the address space stops there.
            len = len.min(usize::try_from(u64::MAX - addr).unwrap_or(usize::MAX));
            if len > 0 {
                kept.push((addr, off, len));
            }
        }
        let mut loads = loads.to_vec();
        loads.sort_by_key(|l| l.vaddr);
        ImageMemory {
            input: input.to_vec(),
            runs: kept,
            exe,
            loads,
            bias,
        }
    }

    fn backing(&self, addr: u64) -> Option<Backing<'_>> {
        let link = addr.wrapping_sub(self.bias);
        let i = self
            .loads
            .partition_point(|l| l.vaddr <= link)
            .checked_sub(1)?;
        let seg = self.loads.get(i)?;
        let off = link - seg.vaddr;
        let size = seg.mem_size.max(seg.file_size);
        if off >= size {
            return None;
        }
        if off < seg.file_size {
            let from = usize::try_from(seg.offset.checked_add(off)?).ok()?;
            let to = usize::try_from(seg.offset.checked_add(seg.file_size)?).ok()?;
            if let Some(bytes) = self.exe.get(from..to) {
                return Some(Backing::File(bytes));
            }
            return None;
        }
        Some(Backing::Zero(size - off))
    }
}

impl Memory for ImageMemory {
    fn read_at(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        // Failed reads are most reads of a garbage image: their message names no address,
        // so that making it costs next to nothing.
        let unreadable = |_at: u64| Error::new(ErrorKind::Unreadable, "not in the process image");
        let mut done = 0usize;
        while done < buf.len() {
            let cur = addr.wrapping_add(done as u64);
            if cur < addr {
                return Err(unreadable(cur));
            }
            let want = buf.len() - done;
            let i = self.runs.partition_point(|r| r.0 <= cur);
            let next = self.runs.get(i).map(|r| r.0);
            let run = i.checked_sub(1).and_then(|j| self.runs.get(j));
            let n = match run {
                Some(&(start, off, len)) if cur - start < len as u64 => {
                    let skip = (cur - start) as usize;
                    let n = want.min(len - skip);
                    let src = off
                        .checked_add(skip)
                        .and_then(|from| self.input.get(from..from.checked_add(n)?));
                    let (Some(src), Some(dst)) = (src, buf.get_mut(done..done + n)) else {
                        return Err(unreadable(cur));
                    };
                    dst.copy_from_slice(src);
                    n
                }
                _ => {
                    let room = next.map_or(u64::MAX, |s| s - cur);
                    let limit = usize::try_from(room).unwrap_or(usize::MAX).min(want);
                    match self.backing(cur) {
                        Some(Backing::File(src)) => {
                            let n = limit.min(src.len());
                            let (Some(src), Some(dst)) =
                                (src.get(..n), buf.get_mut(done..done + n))
                            else {
                                return Err(unreadable(cur));
                            };
                            dst.copy_from_slice(src);
                            n
                        }
                        Some(Backing::Zero(len)) => {
                            let n = limit.min(usize::try_from(len).unwrap_or(usize::MAX));
                            let Some(dst) = buf.get_mut(done..done + n) else {
                                return Err(unreadable(cur));
                            };
                            dst.fill(0);
                            n
                        }
                        None => return Err(unreadable(cur)),
                    }
                }
            };
            if n == 0 {
                return Err(unreadable(cur));
            }
            done += n;
        }
        Ok(())
    }
}

/// The input's image over `exe`, as the `Memory` a target is built from.
pub fn memory(
    input: &[u8],
    image: &ProcessImage,
    exe: &crate::fixtures::Loaded,
    pie: bool,
) -> Arc<dyn Memory> {
    let bias = if pie { image.bias } else { 0 };
    Arc::new(ImageMemory::new(
        input,
        image,
        exe.binary.image().file_data().clone(),
        &exe.loads,
        bias,
    ))
}
