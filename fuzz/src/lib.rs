//! The bodies of the fuzz targets in `fuzz_targets/`, and the fixed object they attack.
//!
//! Each target is one line calling a function here, so the same checks also run as
//! ordinary tests over the seed corpus (`cargo test`).
//!
//! The fixture is one small object (200,000 bytes of pattern at 64 KiB chunks, so four
//! chunks, the last one short) encrypted once at startup under a fixed key and salt. A
//! fuzz input either replaces the ciphertext outright or, more usefully, is read as a
//! script of edits to the valid ciphertext: bit flips, truncations, extensions, swapped
//! and duplicated chunks. The invariants:
//!
//! - nothing panics;
//! - decryption returns `Ok` only if the output is exactly the original plaintext (or the
//!   requested slice of it) and the ciphertext read is exactly the original;
//! - the untouched ciphertext under the untouched header always decrypts.

use std::sync::LazyLock;

use dataseal_crypt::{ChunkSize, DataKey, Decryptor, Encryptor, ObjectHeader, Salt, WriteSink};
use rayon::{ThreadPool, ThreadPoolBuilder};

/// The fixed object every target attacks.
pub struct Fixture {
    /// The data key (fixed).
    pub key: DataKey,
    /// The original plaintext.
    pub plaintext: Vec<u8>,
    /// Its header.
    pub header: ObjectHeader,
    /// Its ciphertext (the chunk stream).
    pub ciphertext: Vec<u8>,
    /// One thread, so every run is deterministic.
    pool: ThreadPool,
}

/// Plaintext bytes of the fixture.
pub const PLAINTEXT_LEN: usize = 200_000;

/// The fixture, built on first use.
pub static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let key = DataKey::from_bytes([0x11; 32]);
    let mut state: u32 = 0x1234_5678;
    let plaintext: Vec<u8> = (0..PLAINTEXT_LEN)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect();
    let id = "fuzz@1.0.0/object.bin".parse().expect("object id");
    let enc = Encryptor::with_salt(&key, id, ChunkSize::MIN, Salt::from_bytes([0x22; 32]));
    let mut sink = WriteSink::new(Vec::new());
    let header = enc.encrypt(&plaintext[..], &mut sink).expect("encrypt");
    let (ciphertext, _) = sink.finish().expect("finish");
    let pool = ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    Fixture {
        key,
        plaintext,
        header,
        ciphertext,
        pool,
    }
});

/// Target `header_parse`: any bytes that parse as a header re-serialise to JSON that parses
/// back to the same header and serialises identically.
pub fn header_parse(data: &[u8]) {
    if let Ok(header) = ObjectHeader::from_json(data) {
        let json = header.to_json();
        let again = ObjectHeader::from_json(json.as_bytes()).expect("to_json output must parse");
        assert_eq!(header, again);
        assert_eq!(json, again.to_json());
        assert_eq!(
            header.chunk_count(),
            header.chunk_size().chunk_count(header.plaintext_len())
        );
    }
}

/// A cursor over the fuzz input.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*first)
    }

    fn uint(&mut self, n: usize) -> Option<u64> {
        let mut v: u64 = 0;
        for i in 0..n {
            v |= u64::from(self.u8()?) << (8 * i);
        }
        Some(v)
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

const CHUNK: usize = 1 << 16;

/// Applies an edit script to the fixture's ciphertext. Each edit is an opcode byte and its
/// arguments; a script cut short ends early.
fn edit(script: &mut Bytes<'_>) -> Vec<u8> {
    let mut ct = FIXTURE.ciphertext.clone();
    while let Some(op) = script.u8() {
        let chunks = ct.len().div_ceil(CHUNK).max(1) as u64;
        match op % 5 {
            // Flip bits of one byte.
            0 => {
                let (Some(pos), Some(mask)) = (script.uint(3), script.u8()) else {
                    break;
                };
                let len = ct.len() as u64;
                if let Some(b) = ct.get_mut((pos % len.max(1)) as usize) {
                    *b ^= mask.max(1);
                }
            }
            // Truncate.
            1 => {
                let Some(n) = script.uint(3) else { break };
                ct.truncate((n % (ct.len() as u64 + 1)) as usize);
            }
            // Extend with 1 to 256 copies of a byte.
            2 => {
                let (Some(n), Some(b)) = (script.u8(), script.u8()) else {
                    break;
                };
                ct.extend(std::iter::repeat_n(b, usize::from(n) + 1));
            }
            // Swap two chunks, or copy one over another.
            swap_or_copy => {
                let (Some(i), Some(j)) = (script.u8(), script.u8()) else {
                    break;
                };
                let (i, j) = (u64::from(i) % chunks, u64::from(j) % chunks);
                let (i, j) = (i as usize * CHUNK, j as usize * CHUNK);
                let a = ct
                    .get(i..(i + CHUNK).min(ct.len()))
                    .unwrap_or_default()
                    .to_vec();
                let b = ct
                    .get(j..(j + CHUNK).min(ct.len()))
                    .unwrap_or_default()
                    .to_vec();
                if a.len() != b.len() {
                    continue;
                }
                ct.splice(j..j + b.len(), a.iter().copied());
                if swap_or_copy == 3 {
                    ct.splice(i..i + a.len(), b.iter().copied());
                }
            }
        }
    }
    ct
}

/// Flag bit: the header comes from the input (a 2-byte length, then JSON) when it parses.
pub const FLAG_HEADER: u8 = 1;
/// Flag bit: the rest of the input is the ciphertext itself, not an edit script.
pub const FLAG_RAW_CIPHERTEXT: u8 = 2;
/// Flag bit (`decrypt_range`): offset and length are used as given, not folded into range.
pub const FLAG_RAW_RANGE: u8 = 4;

/// Target `decrypt`: a flags byte, an optional header, then an edit script or a whole
/// ciphertext; decrypts it all.
pub fn decrypt(data: &[u8]) {
    let fx = &*FIXTURE;
    let mut input = Bytes(data);
    let flags = input.u8().unwrap_or(0);
    let header = header_from(flags, &mut input);
    let ct = ciphertext_from(flags, &mut input);
    let Ok(dec) = Decryptor::new(&fx.key, &header) else {
        assert_ne!(header, fx.header, "the fixture's own header was refused");
        return;
    };
    let mut out = Vec::new();
    let result = fx.pool.install(|| dec.decrypt(&ct[..], &mut out));
    match result {
        Ok(n) => {
            assert!(
                out == fx.plaintext,
                "decrypt returned Ok with wrong plaintext"
            );
            assert!(
                ct == fx.ciphertext,
                "decrypt accepted a modified ciphertext"
            );
            assert_eq!(n, fx.plaintext.len() as u64);
        }
        Err(e) => assert!(
            !(ct == fx.ciphertext && header == fx.header),
            "the untouched object failed to decrypt: {e}"
        ),
    }
}

/// Target `decrypt_range`: a flags byte, offset and length (8 bytes each), an optional
/// header, then an edit script or a whole ciphertext; decrypts that range.
pub fn decrypt_range(data: &[u8]) {
    let fx = &*FIXTURE;
    let mut input = Bytes(data);
    let flags = input.u8().unwrap_or(0);
    let mut offset = input.uint(8).unwrap_or(0);
    let mut len = input.uint(8).unwrap_or(0);
    let header = header_from(flags, &mut input);
    let ct = ciphertext_from(flags, &mut input);
    if flags & FLAG_RAW_RANGE == 0 {
        let total = fx.plaintext.len() as u64;
        offset %= total + 1;
        len %= total - offset + 1;
    }
    let Ok(dec) = Decryptor::new(&fx.key, &header) else {
        assert_ne!(header, fx.header, "the fixture's own header was refused");
        return;
    };
    let mut out = Vec::new();
    let result = fx
        .pool
        .install(|| dec.decrypt_range(&mut &ct[..], offset, len, &mut out));
    let expected = usize::try_from(offset)
        .ok()
        .zip(usize::try_from(len).ok())
        .and_then(|(o, l)| fx.plaintext.get(o..o.checked_add(l)?));
    match result {
        Ok(()) => {
            let expected =
                expected.expect("decrypt_range returned Ok for a range outside the object");
            assert!(
                out == expected,
                "decrypt_range returned Ok with wrong plaintext"
            );
        }
        Err(e) => assert!(
            !(ct == fx.ciphertext && header == fx.header && expected.is_some()),
            "an untouched range failed to decrypt: {e}"
        ),
    }
}

fn header_from(flags: u8, input: &mut Bytes<'_>) -> ObjectHeader {
    if flags & FLAG_HEADER != 0 {
        let n = input.uint(2).unwrap_or(0) as usize;
        if let Ok(h) = ObjectHeader::from_json(input.take(n)) {
            return h;
        }
    }
    FIXTURE.header.clone()
}

fn ciphertext_from(flags: u8, input: &mut Bytes<'_>) -> Vec<u8> {
    if flags & FLAG_RAW_CIPHERTEXT != 0 {
        input.0.to_vec()
    } else {
        edit(input)
    }
}

/// The seed corpus: `(target, name, bytes)`. Written to `corpus-seeds/` by the ignored test
/// `write_seeds`; every seed also runs as an ordinary test.
#[must_use]
pub fn seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let json = FIXTURE.header.to_json().into_bytes();
    let with_header = |flags: u8, prefix: &[u8], rest: &[u8]| {
        let mut v = vec![flags | FLAG_HEADER];
        v.extend_from_slice(prefix);
        v.extend_from_slice(&(json.len() as u16).to_le_bytes());
        v.extend_from_slice(&json);
        v.extend_from_slice(rest);
        v
    };
    let range = |offset: u64, len: u64| {
        let mut v = offset.to_le_bytes().to_vec();
        v.extend_from_slice(&len.to_le_bytes());
        v
    };
    let cat = |a: &[u8], b: &[u8]| [a, b].concat();
    vec![
        ("header_parse", "fixture", json.clone()),
        ("decrypt", "untouched", vec![0]),
        ("decrypt", "header", with_header(0, &[], &[])),
        ("decrypt", "flip", vec![0, 0, 0x34, 0x12, 0x00, 0x01]),
        ("decrypt", "truncate", vec![0, 1, 0x00, 0x00, 0x03]),
        ("decrypt", "extend", vec![0, 2, 15, 0xaa]),
        ("decrypt", "swap", vec![0, 3, 1, 2]),
        ("decrypt", "copy", vec![0, 4, 0, 2]),
        ("decrypt_range", "middle", cat(&[0], &range(65_000, 10_000))),
        (
            "decrypt_range",
            "header",
            with_header(0, &range(131_040, 5), &[]),
        ),
        ("decrypt_range", "tail", cat(&[0], &range(199_990, 10))),
        (
            "decrypt_range",
            "outside",
            cat(&[FLAG_RAW_RANGE], &range(u64::MAX - 1, 3)),
        ),
        (
            "decrypt_range",
            "flip-elsewhere",
            cat(&[0], &cat(&range(10, 100), &[0, 0x00, 0x00, 0x02, 0x80])),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(target: &str, data: &[u8]) {
        match target {
            "header_parse" => header_parse(data),
            "decrypt" => decrypt(data),
            "decrypt_range" => decrypt_range(data),
            other => panic!("unknown target {other}"),
        }
    }

    #[test]
    fn seeds_pass() {
        for (target, _, data) in seeds() {
            run(target, &data);
        }
    }

    /// Replays everything under `corpus-seeds/` (and minimised crashes saved there).
    #[test]
    fn committed_seeds_pass() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus-seeds");
        for target in ["header_parse", "decrypt", "decrypt_range"] {
            let Ok(dir) = std::fs::read_dir(root.join(target)) else {
                continue;
            };
            for entry in dir {
                let path = entry.unwrap().path();
                run(target, &std::fs::read(&path).unwrap());
            }
        }
    }

    #[test]
    #[ignore = "rewrites corpus-seeds/"]
    fn write_seeds() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus-seeds");
        for (target, name, data) in seeds() {
            std::fs::create_dir_all(root.join(target)).unwrap();
            std::fs::write(root.join(target).join(name), data).unwrap();
        }
    }
}

/// Target `sealed_section`: the first byte picks the layer. `0`: the rest is a sealed
/// section's body (`SealedSection::from_body`); one that parses re-encodes to exactly the
/// same bytes. Otherwise the rest is a whole sealed section opened under a fixed
/// key-encryption key and context; one that opens re-seals, with its own nonce, to
/// exactly the same bytes.
pub fn sealed_section(data: &[u8]) {
    use dataseal_crypt::{KeyEncryptionKey, SealedSection};
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode == 0 {
        if let Ok(section) = SealedSection::from_body(rest) {
            assert_eq!(
                &*section.to_body(),
                rest,
                "a parsed body re-encodes identically"
            );
        }
        return;
    }
    let kek = KeyEncryptionKey::from_bytes([7; 32]);
    if let Ok(section) = SealedSection::open(rest, &kek, "fuzz@1.0.0") {
        let nonce: [u8; 24] = rest
            .get(1..25)
            .and_then(|n| n.try_into().ok())
            .expect("an opened section has a nonce");
        let again = section
            .seal_with_nonce(&kek, "fuzz@1.0.0", &nonce)
            .expect("re-sealing an opened section");
        assert_eq!(again, rest, "an opened section re-seals identically");
    }
}
