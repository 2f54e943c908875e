//! The fuzzing entry points never panic: arbitrary bytes, and mutations of valid inputs.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use dataseal_policy::fuzzing;
use proptest::prelude::*;

const REQUEST: &str = r#"{"principal":{"user":"tess"},"action":"train","resource":{"version":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},"purpose":"training","region":"DE","time":"2026-11-21T12:00:00Z","grant":"v4.public.AAAA","approvals":[{"payload":"eyJhcHByb3ZlciI6Im9saXZpYSIsImNpZCI6ImJhZmtyZWloYWRrZzN1N2V3cTV2eDRyNzN5NnJ0YWpkYnFxM2k3NHU2Mm1scGJwem9wZnJubGtrNXRlIiwicm9sZSI6ImRhdGEtb3duZXIiLCJ0aW1lIjoiMjAyNi0xMS0yMVQxMjowMDowMFoifQ==","payloadType":"application/vnd.dataseal.approval+json","signatures":[{"keyid":"f3f07fe83c6d4dedde3c59cb77b86d93a501202ffc66bb84276a1dd3ccf17afe","sig":"W+gZqYMy/e0WD6OiGH2EsLxQCjy6b4eInCQay0OxzeFqcFxSlhtm8rnHK007jhac2ZtqGp7vpeixlfuvn9ZmAA=="}]}]}"#;
const APPROVAL: &str = r#"{"payload":"eyJhcHByb3ZlciI6Im9saXZpYSIsImNpZCI6ImJhZmtyZWloYWRrZzN1N2V3cTV2eDRyNzN5NnJ0YWpkYnFxM2k3NHU2Mm1scGJwem9wZnJubGtrNXRlIiwicm9sZSI6ImRhdGEtb3duZXIiLCJ0aW1lIjoiMjAyNi0xMS0yMVQxMjowMDowMFoifQ==","payloadType":"application/vnd.dataseal.approval+json","signatures":[{"keyid":"f3f07fe83c6d4dedde3c59cb77b86d93a501202ffc66bb84276a1dd3ccf17afe","sig":"W+gZqYMy/e0WD6OiGH2EsLxQCjy6b4eInCQay0OxzeFqcFxSlhtm8rnHK007jhac2ZtqGp7vpeixlfuvn9ZmAA=="}]}"#;
const ENTITIES: &str = r#"{"entities":[{"uid":{"type":"Dataseal::User","id":"tess"},"attrs":{},"parents":[{"type":"Dataseal::Role","id":"trainer"}]}],"versions":[]}"#;
const LOG: &str = "{\"seq\":0,\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"kind\":\"decision\",\"record\":{}}\n";

fn mutate(base: &str, at: usize, byte: u8) -> Vec<u8> {
    let mut v = base.as_bytes().to_vec();
    if !v.is_empty() {
        let i = at % v.len();
        v[i] = byte;
    }
    v
}

#[test]
fn valid_inputs_run_through() {
    fuzzing::request_json(REQUEST.as_bytes());
    fuzzing::entities_json(ENTITIES.as_bytes());
    fuzzing::audit_log(LOG.as_bytes());
    fuzzing::grant(b"v4.public.AAAA");
    fuzzing::approval(APPROVAL.as_bytes());
    fuzzing::policies(b"@id(\"x\") permit(principal, action, resource);");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        fuzzing::request_json(&data);
        fuzzing::entities_json(&data);
        fuzzing::grant(&data);
        fuzzing::approval(&data);
        fuzzing::audit_log(&data);
        fuzzing::policies(&data);
    }

    #[test]
    fn mutated_inputs(at in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
        for base in [REQUEST, ENTITIES, LOG, APPROVAL] {
            let m = mutate(base, at, byte);
            let c = &base.as_bytes()[..cut % (base.len() + 1)];
            for input in [m.as_slice(), c] {
                fuzzing::request_json(input);
                fuzzing::entities_json(input);
                fuzzing::audit_log(input);
                fuzzing::grant(input);
                fuzzing::approval(input);
            }
        }
    }
}
