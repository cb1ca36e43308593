//! Memory served by a function: the Python binding passes GDB's `Inferior.read_memory`.

use super::Memory;
use crate::error::{Error, ErrorKind, Result};

/// Memory read through `read(addr, len) -> bytes`. The callback should fail with
/// [`ErrorKind::Unreadable`]; a reply of the wrong length is treated as unreadable memory.
/// Wrap it in a [`super::PageCache`] when each call is expensive.
pub struct CallbackMemory<F> {
    read: F,
}

impl<F> CallbackMemory<F>
where
    F: Fn(u64, usize) -> Result<Vec<u8>> + Send + Sync,
{
    pub fn new(read: F) -> Self {
        CallbackMemory { read }
    }
}

impl<F> Memory for CallbackMemory<F>
where
    F: Fn(u64, usize) -> Result<Vec<u8>> + Send + Sync,
{
    /// A debugger's reader runs on the debugger's thread only.
    fn concurrent(&self) -> bool {
        false
    }

    fn read_at(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let bytes = (self.read)(addr, buf.len())?;
        if bytes.len() != buf.len() {
            return Err(Error::new(
                ErrorKind::Unreadable,
                format!(
                    "cannot read {} bytes of target memory at {addr:#x}: the debugger returned {} bytes",
                    buf.len(),
                    bytes.len()
                ),
            )
            .at(addr));
        }
        buf.copy_from_slice(&bytes);
        Ok(())
    }
}

impl<F> std::fmt::Debug for CallbackMemory<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallbackMemory")
    }
}
