//! Panic values decoded from their interface as the Go runtime prints them after `panic: `.
