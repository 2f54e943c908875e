#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dataseal_fuzz::decrypt_range(data));
