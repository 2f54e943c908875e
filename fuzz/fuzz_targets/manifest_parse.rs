#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dataseal_manifest::fuzzing::manifest(data);
});
