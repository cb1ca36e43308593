//! A live process read through `/proc/PID/mem`: no ptrace stop needed when the kernel lets us
//! open the file (same user and a permissive `ptrace_scope`, or root).

use std::fs::File;
use std::io::ErrorKind as IoKind;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use super::{unreadable_at, Memory};
use crate::error::{Error, ErrorKind, Result};

/// Memory of a running process, opened read-only.
#[derive(Debug)]
pub struct ProcMemory {
    pid: u32,
    file: File,
}

impl ProcMemory {
    pub fn open(pid: u32) -> Result<ProcMemory> {
        let dir = PathBuf::from(format!("/proc/{pid}"));
        if !dir.exists() {
            return Err(Error::new(ErrorKind::Io, format!("no such process: {pid}")));
        }
        let path = dir.join("mem");
        let file = File::open(&path).map_err(|e| {
            let why = match e.kind() {
                IoKind::PermissionDenied => format!(
                    "permission denied (reading another process's memory needs the same user and kernel.yama.ptrace_scope=0, or CAP_SYS_PTRACE): {e}"
                ),
                IoKind::NotFound => "the process has exited".to_string(),
                _ => e.to_string(),
            };
            Error::new(
                ErrorKind::Io,
                format!("cannot open {}: {why}", path.display()),
            )
        })?;
        Ok(ProcMemory { pid, file })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }
}

impl Memory for ProcMemory {
    fn read_at(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        // /proc/PID/mem takes the address as the file offset; offsets are signed, so the top
        // half of the address space is out of its reach.
        if addr
            .checked_add(buf.len() as u64)
            .is_none_or(|end| end > i64::MAX as u64)
        {
            return Err(unreadable_at(
                addr,
                buf.len(),
                addr,
                "outside the process's address range",
            ));
        }
        let mut done = 0usize;
        while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
            // addr + buf.len() was checked above.
            let cur = addr.wrapping_add(done as u64);
            match self.file.read_at(rest, cur) {
                Ok(0) => {
                    return Err(unreadable_at(
                        addr,
                        buf.len(),
                        cur,
                        "not mapped in the process",
                    ))
                }
                Ok(n) => done = done.saturating_add(n),
                Err(e) if e.kind() == IoKind::Interrupted => {}
                Err(e) => {
                    let why = match e.raw_os_error() {
                        Some(5) | Some(14) => "not mapped in the process".to_string(),
                        Some(3) => "the process has exited".to_string(),
                        _ => e.to_string(),
                    };
                    return Err(unreadable_at(addr, buf.len(), cur, &why));
                }
            }
        }
        Ok(())
    }
}
