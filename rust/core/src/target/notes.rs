//! The notes of an ELF core: threads and their registers (NT_PRSTATUS, NT_ARM_TLS), the
//! process (NT_PRPSINFO), the fatal signal (NT_SIGINFO), mapped files (NT_FILE) and the
//! auxiliary vector (NT_AUXV). Layouts are the Linux kernel's for 64-bit little-endian targets.

use serde::Serialize;

use super::registers::Registers;
use crate::binary::elf::Arch;
use crate::bytes::ReadLe;
use crate::error::{Error, Result};

pub(crate) const NT_PRSTATUS: u32 = 1;
pub(crate) const NT_PRFPREG: u32 = 2;
pub(crate) const NT_PRPSINFO: u32 = 3;
pub(crate) const NT_AUXV: u32 = 6;
pub(crate) const NT_SIGINFO: u32 = 0x5349_4749;
pub(crate) const NT_FILE: u32 = 0x4649_4c45;
pub(crate) const NT_X86_XSTATE: u32 = 0x202;
pub(crate) const NT_ARM_TLS: u32 = 0x401;
pub(crate) const NT_GNU_BUILD_ID: u32 = 3;
/// The note type Go's linker gives `.note.go.buildid`.
pub(crate) const NT_GO_BUILD_ID: u32 = 4;

/// Offset of `pr_reg` in `struct elf_prstatus` (after siginfo, cursig, sigpend, sighold, four
/// ids and four timevals).
const PRSTATUS_REGS: usize = 112;

/// One thread of the dumped process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    /// The kernel's thread id (LWP), as GDB shows it in `info threads`.
    pub lwp: u32,
    /// The signal the thread was stopped by (`pr_cursig`); the dumping signal for the first
    /// thread, usually 0 for the others.
    pub signal: u32,
    /// Signals pending and blocked (`pr_sigpend`, `pr_sighold`), bit N-1 for signal N.
    pub pending: u64,
    pub blocked: u64,
    pub registers: Registers,
    /// The thread's own NT_SIGINFO, when the core has one per thread (GDB's `gcore`) or this
    /// is the thread that dumped (kernel cores).
    pub siginfo: Option<SignalInfo>,
}

/// The process as the kernel described it (NT_PRPSINFO).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessInfo {
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    /// Scheduler state letter (`R`, `S`, `D`, ...).
    pub state: char,
    /// The executable's name, cut to 15 bytes by the kernel.
    pub fname: String,
    /// The command line, arguments separated by spaces, cut to 80 bytes by the kernel.
    pub psargs: String,
}

/// The signal that killed the process (NT_SIGINFO, a `siginfo_t`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignalInfo {
    pub signo: i32,
    pub errno: i32,
    pub code: i32,
    /// The faulting address, for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGTRAP raised by the
    /// kernel (`code > 0`).
    pub fault_addr: Option<u64>,
    /// Who sent the signal, for signals sent by kill, tgkill or sigqueue (`code <= 0`).
    pub sender_pid: Option<i32>,
    pub sender_uid: Option<u32>,
}

impl SignalInfo {
    /// The signal's name (`SIGSEGV`), or `signal N` for one without a name.
    pub fn signal_name(&self) -> String {
        signal_name(self.signo)
    }

    /// Whether the kernel raised the signal for a fault, not a process sending it.
    pub fn from_kernel(&self) -> bool {
        self.code > 0
    }
}

/// Linux signal names, shared by amd64 and arm64.
pub fn signal_name(signo: i32) -> String {
    const NAMES: [&str; 31] = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    usize::try_from(signo)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| format!("signal {signo}"), |s| (*s).to_string())
}

/// A file mapped into the process (one NT_FILE entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappedFile {
    pub start: u64,
    pub end: u64,
    /// Offset in the file of the mapping's first byte.
    pub offset: u64,
    pub path: String,
}

/// Everything the notes say.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    pub threads: Vec<Thread>,
    pub process: Option<ProcessInfo>,
    pub siginfo: Option<SignalInfo>,
    pub files: Vec<MappedFile>,
    pub auxv: Vec<(u64, u64)>,
    pub warnings: Vec<String>,
}

/// A note's type as `readelf` names it.
pub(crate) fn note_type_name(owner: &[u8], kind: u32) -> String {
    let name = match (owner, kind) {
        (b"CORE", NT_PRSTATUS) => "NT_PRSTATUS",
        (b"CORE", NT_PRFPREG) => "NT_FPREGSET",
        (b"CORE", NT_PRPSINFO) => "NT_PRPSINFO",
        (b"CORE", NT_AUXV) => "NT_AUXV",
        (b"CORE", NT_SIGINFO) => "NT_SIGINFO",
        (b"CORE", NT_FILE) => "NT_FILE",
        (b"LINUX", NT_X86_XSTATE) => "NT_X86_XSTATE",
        (b"LINUX", NT_ARM_TLS) => "NT_ARM_TLS",
        (b"GNU", NT_GNU_BUILD_ID) => "NT_GNU_BUILD_ID",
        (b"Go", NT_GO_BUILD_ID) => "Go build ID",
        _ if owner.is_empty() => return format!("of type {kind:#x}"),
        _ => return format!("{} type {kind:#x}", String::from_utf8_lossy(owner)),
    };
    name.to_string()
}

/// One note: its owner (without NUL padding), type, the descriptor and where it starts.
pub(crate) struct RawNote<'a> {
    pub owner: &'a [u8],
    pub kind: u32,
    pub desc: &'a [u8],
    pub offset: usize,
}

/// Walks the notes in `bytes[start..end]`, where `bytes` may end before `end` (a truncated
/// file). Stops with an error at the first note that is cut short or inconsistent.
pub(crate) fn walk_notes<'a>(
    bytes: &'a [u8],
    start: usize,
    end: usize,
    mut each: impl FnMut(RawNote<'a>) -> Result<()>,
) -> Result<()> {
    let avail = end.min(bytes.len());
    let mut pos = start;
    while pos < end {
        if end.saturating_sub(pos) < 12 {
            // Trailing padding too short for a header.
            break;
        }
        let header = bytes.get(pos..).unwrap_or_default();
        let (Some(namesz), Some(descsz), Some(kind)) =
            (header.u32_at(0), header.u32_at(4), header.u32_at(8))
        else {
            return Err(Error::truncated(format!(
                "the file is truncated inside its notes: the note header at offset {pos:#x} is cut short"
            )));
        };
        // pos + 12 <= end, checked above.
        let name_start = pos.saturating_add(12);
        let desc_start = name_start
            .checked_add(align4(namesz as usize))
            .filter(|&d| d <= end);
        let owner_raw = desc_start
            .and_then(|_| bytes.get(name_start..name_start.saturating_add(namesz as usize)));
        let owner = owner_raw.map_or(&[][..], trim_nul);
        let desc_end = desc_start.and_then(|d| d.checked_add(descsz as usize));
        let what = note_type_name(owner, kind);
        let Some((desc_start, desc_end)) = desc_start.zip(desc_end).filter(|&(_, e)| e <= end)
        else {
            if avail < end {
                return Err(Error::truncated(format!(
                    "the file is truncated inside note {what} at offset {pos:#x}"
                )));
            }
            if desc_start.is_none() {
                return Err(Error::corrupt(format!(
                    "note {what} at offset {pos:#x} claims a name of {namesz} bytes, more than its segment holds"
                )));
            }
            return Err(Error::corrupt(format!(
                "note {what} at offset {pos:#x} claims {descsz} bytes, more than its segment holds"
            )));
        };
        let Some(desc) = bytes.get(desc_start..desc_end) else {
            return Err(Error::truncated(format!(
                "the file is truncated inside note {what} at offset {pos:#x}"
            )));
        };
        each(RawNote {
            owner,
            kind,
            desc,
            offset: pos,
        })?;
        pos = align4(desc_end);
    }
    Ok(())
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

fn trim_nul(b: &[u8]) -> &[u8] {
    let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    b.get(..n).unwrap_or(b)
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes(s.try_into().ok()?))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(trim_nul(b)).into_owned()
}

impl Notes {
    /// Interprets one note of a core.
    pub(crate) fn add(&mut self, note: &RawNote<'_>, arch: Arch) -> Result<()> {
        let d = note.desc;
        match (note.owner, note.kind) {
            (b"CORE", NT_PRSTATUS) => {
                let nregs = Registers::names(arch).len();
                let need = PRSTATUS_REGS.saturating_add(nregs.saturating_mul(8));
                if d.len() < need {
                    return Err(Error::corrupt(format!(
                        "NT_PRSTATUS at offset {:#x} has {} bytes, {} expected for {}",
                        note.offset,
                        d.len(),
                        need,
                        arch.go_name()
                    )));
                }
                let regs: Vec<u64> = (0..nregs)
                    .map(|i| {
                        d.u64_at(PRSTATUS_REGS.saturating_add(i.saturating_mul(8)))
                            .unwrap_or(0)
                    })
                    .collect();
                self.threads.push(Thread {
                    lwp: d.u32_at(32).unwrap_or(0),
                    signal: u32::from(u16_at(d, 12).unwrap_or(0)),
                    pending: d.u64_at(16).unwrap_or(0),
                    blocked: d.u64_at(24).unwrap_or(0),
                    registers: Registers::from_kernel_order(arch, &regs),
                    siginfo: None,
                });
            }
            (b"CORE", NT_PRPSINFO) => {
                if d.len() < 136 {
                    self.warnings.push(format!(
                        "NT_PRPSINFO at offset {:#x} is too short ({} bytes); process name unknown",
                        note.offset,
                        d.len()
                    ));
                    return Ok(());
                }
                self.process = Some(ProcessInfo {
                    state: char::from(d.u8_at(1).unwrap_or(b'?')),
                    uid: d.u32_at(16).unwrap_or(0),
                    gid: d.u32_at(20).unwrap_or(0),
                    pid: d.u32_at(24).unwrap_or(0),
                    ppid: d.u32_at(28).unwrap_or(0),
                    fname: text(d.get(40..56).unwrap_or_default()),
                    psargs: text(d.get(56..136).unwrap_or_default())
                        .trim_end()
                        .to_string(),
                });
            }
            (b"CORE", NT_SIGINFO) => {
                let Some(info) = parse_siginfo(d) else {
                    self.warnings.push(format!(
                        "NT_SIGINFO at offset {:#x} is too short ({} bytes)",
                        note.offset,
                        d.len()
                    ));
                    return Ok(());
                };
                if let Some(t) = self.threads.last_mut().filter(|t| t.siginfo.is_none()) {
                    t.siginfo = Some(info.clone());
                }
                if self.siginfo.is_none() {
                    self.siginfo = Some(info);
                }
            }
            (b"CORE", NT_AUXV) => {
                for pair in d.chunks_exact(16) {
                    let (Some(k), Some(v)) = (pair.u64_at(0), pair.u64_at(8)) else {
                        break;
                    };
                    if k == 0 {
                        break;
                    }
                    self.auxv.push((k, v));
                }
            }
            (b"CORE", NT_FILE) => match parse_nt_file(d) {
                Ok(files) => self.files = files,
                Err(why) => self.warnings.push(format!(
                    "NT_FILE at offset {:#x} is malformed ({}); mapped files unknown",
                    note.offset,
                    why.message()
                )),
            },
            (b"LINUX", NT_ARM_TLS) if arch == Arch::Arm64 => {
                if let (Some(t), Some(v)) = (self.threads.last_mut(), d.u64_at(0)) {
                    t.registers.set_tpidr_el0(v);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Decodes a 64-bit Linux `siginfo_t`.
pub(crate) fn parse_siginfo(d: &[u8]) -> Option<SignalInfo> {
    let signo = d.i32_at(0)?;
    let errno = d.i32_at(4)?;
    let code = d.i32_at(8)?;
    const SIGILL: i32 = 4;
    const SIGTRAP: i32 = 5;
    const SIGBUS: i32 = 7;
    const SIGFPE: i32 = 8;
    const SIGSEGV: i32 = 11;
    // SI_USER (kill), SI_QUEUE (sigqueue), SI_TKILL (tgkill) carry the sender.
    const SI_USER: i32 = 0;
    const SI_QUEUE: i32 = -1;
    const SI_TKILL: i32 = -6;
    let (mut fault_addr, mut sender_pid, mut sender_uid) = (None, None, None);
    if matches!(code, SI_USER | SI_QUEUE | SI_TKILL) {
        sender_pid = d.i32_at(16);
        sender_uid = d.u32_at(20);
    } else if code > 0 && matches!(signo, SIGILL | SIGTRAP | SIGBUS | SIGFPE | SIGSEGV) {
        fault_addr = d.u64_at(16);
    }
    Some(SignalInfo {
        signo,
        errno,
        code,
        fault_addr,
        sender_pid,
        sender_uid,
    })
}

/// Decodes NT_FILE: a count, the page size, count × (start, end, page offset), then count
/// NUL-terminated paths.
fn parse_nt_file(d: &[u8]) -> Result<Vec<MappedFile>> {
    let count = d.u64_at(0).ok_or_else(|| Error::truncated("no header"))?;
    let page = d.u64_at(8).ok_or_else(|| Error::truncated("no header"))?;
    // The note's size is the kernel's own: a count it has no room for is an inconsistent
    // header rather than a note cut short.
    let table_len = count
        .checked_mul(24)
        .and_then(|n| n.checked_add(16))
        .filter(|&n| n <= d.len() as u64)
        .ok_or_else(|| {
            Error::corrupt(format!("{count} entries do not fit in {} bytes", d.len()))
        })?;
    let mut names = d
        .get(table_len as usize..)
        .unwrap_or_default()
        .split(|&b| b == 0);
    let mut files = Vec::with_capacity(count as usize);
    for i in 0..count as usize {
        // In bounds: the table's length was checked above.
        let entry = d
            .get(i.saturating_mul(24).saturating_add(16)..)
            .unwrap_or_default();
        let (Some(start), Some(end), Some(pgoff)) =
            (entry.u64_at(0), entry.u64_at(8), entry.u64_at(16))
        else {
            return Err(Error::truncated(format!("entry {i} is cut short")));
        };
        let path = names
            .next()
            .ok_or_else(|| Error::truncated(format!("entry {i} has no path")))?;
        files.push(MappedFile {
            start,
            end,
            offset: pgoff.saturating_mul(page),
            path: String::from_utf8_lossy(path).into_owned(),
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn nt_file(count: u64, entries: &[(u64, u64, u64)], names: &[u8]) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&count.to_le_bytes());
        d.extend_from_slice(&4096u64.to_le_bytes());
        for &(start, end, pgoff) in entries {
            for v in [start, end, pgoff] {
                d.extend_from_slice(&v.to_le_bytes());
            }
        }
        d.extend_from_slice(names);
        d
    }

    fn failure(d: &[u8]) -> (ErrorKind, String) {
        let e = parse_nt_file(d).expect_err("malformed NT_FILE");
        (e.kind(), e.message().to_string())
    }

    #[test]
    fn nt_file_failures_keep_their_texts_and_name_their_kind() {
        assert_eq!(
            failure(&[0; 12]),
            (ErrorKind::Truncated, "no header".to_string())
        );
        assert_eq!(
            failure(&nt_file(1000, &[], b"")),
            (
                ErrorKind::Corrupt,
                "1000 entries do not fit in 16 bytes".to_string()
            )
        );
        assert_eq!(
            failure(&nt_file(u64::MAX, &[], b"")),
            (
                ErrorKind::Corrupt,
                format!("{} entries do not fit in 16 bytes", u64::MAX)
            )
        );
        let two = [(0x1000, 0x2000, 0), (0x2000, 0x3000, 1)];
        assert_eq!(
            failure(&nt_file(2, &two, b"")),
            (ErrorKind::Truncated, "entry 1 has no path".to_string())
        );
        let files = parse_nt_file(&nt_file(2, &two, b"/bin/a\0/lib/b.so\0")).expect("valid");
        assert_eq!(files.len(), 2);
        assert_eq!(files[1].path, "/lib/b.so");
        assert_eq!(files[1].offset, 4096);
    }
}
