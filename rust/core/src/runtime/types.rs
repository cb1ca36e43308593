//! Go type descriptors (`internal/abi.Type` and the kinds' extensions) read from the target:
//! names, kinds, sizes, elements and struct fields, without DWARF.
