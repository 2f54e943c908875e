#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dataseal_fuzz::header_parse(data));
