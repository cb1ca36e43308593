//! What is concluded from the decoded runtime: stack groups, what crashed and why, what
//! blocked goroutines wait on and which never wake (deadlocks, leaks), the heap's object graph
//! with dominators, retaining paths and pprof profiles. Analyses read the runtime through its
//! public API only ([`crate::runtime::Runtime`] and the records it returns); none of them
//! decodes a runtime structure of its own, and none formats text for a front end beyond the
//! sentences of its verdicts.

pub mod blocking;
pub mod crash;
pub mod dominators;
pub mod groups;
pub mod heapgraph;
pub mod heapreport;
pub mod pprof;
