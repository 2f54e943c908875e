#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dataseal_fuzz::sealed_section(data));
