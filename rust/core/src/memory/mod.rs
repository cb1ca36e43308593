//! Target memory: core files, live processes and caches behind one `Memory` trait.
