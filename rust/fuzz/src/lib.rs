//! Fuzzing goscope-core: the targets' bodies, the process images the runtime target reads,
//! the real executables the targets work on and the seeds made from the fixtures. The fuzz
//! targets in `fuzz_targets/` only hand their input to [`targets`].

pub mod elfbytes;
pub mod fixtures;
pub mod image;
pub mod seeds;
pub mod targets;
