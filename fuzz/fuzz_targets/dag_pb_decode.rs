#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = dataseal_transport::fuzzing::dag_pb(data);
});
