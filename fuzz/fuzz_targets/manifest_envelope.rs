#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dataseal_manifest::fuzzing::envelope(data);
});
