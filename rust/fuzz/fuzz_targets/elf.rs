#![no_main]

libfuzzer_sys::fuzz_target!(
    init: goscope_fuzz::seeds::write_if_asked("elf"),
    |data: &[u8]| goscope_fuzz::targets::elf(data)
);
