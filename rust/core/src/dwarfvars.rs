//! Variables from DWARF: package variables and the frame variables live at a pc, each with its Go runtime type descriptor.
