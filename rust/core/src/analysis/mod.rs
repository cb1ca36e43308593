//! Graph algorithms over the heap's object graph: dominators (retained sizes) and the pprof
//! profile writer.

pub mod dominators;
pub mod pprof;
