#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(broken) = dataseal_transport::fuzzing::dir_store(data) {
        panic!("{broken}");
    }
});
