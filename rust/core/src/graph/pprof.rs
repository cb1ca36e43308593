//! A pprof profile (profile.proto, gzipped).
