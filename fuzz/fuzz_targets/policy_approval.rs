#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dataseal_policy::fuzzing::approval(data);
});
