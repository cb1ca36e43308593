//! Field offsets of the runtime's structures, from DWARF or per-version tables.
