#![no_main]

libfuzzer_sys::fuzz_target!(
    init: goscope_fuzz::seeds::write_if_asked("core"),
    |data: &[u8]| goscope_fuzz::targets::core(data)
);
