//! Wrapped data keys and age interoperability for sealed key-encryption keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should panic with context"
)]

use std::io::{Read, Write};
use std::process::Command;

use dataseal_crypt::{
    DataKey, Error, Identity, KeyEncryptionKey, ObjectId, Recipient, WrappedKey, open_kek, seal_kek,
};

fn id(s: &str) -> ObjectId {
    s.parse().unwrap()
}

#[test]
fn wrapped_keys_open_only_for_their_kek_and_object() {
    let kek = KeyEncryptionKey::generate().unwrap();
    let dek = DataKey::generate().unwrap();
    let w = WrappedKey::wrap(&kek, &id("ds@1/a"), &dek).unwrap();
    assert_eq!(w.unwrap(&kek, &id("ds@1/a")).unwrap(), dek);
    assert!(matches!(
        w.unwrap(&kek, &id("ds@1/b")),
        Err(Error::KeyUnwrap(_))
    ));
    let other = KeyEncryptionKey::generate().unwrap();
    assert!(matches!(
        w.unwrap(&other, &id("ds@1/a")),
        Err(Error::KeyUnwrap(_))
    ));
    // Two wraps of one key differ (random nonces) but both open.
    let w2 = WrappedKey::wrap(&kek, &id("ds@1/a"), &dek).unwrap();
    assert_ne!(w, w2);
    assert_eq!(w2.unwrap(&kek, &id("ds@1/a")).unwrap(), dek);
}

#[test]
fn every_bit_of_a_wrapped_key_is_protected() {
    let kek = KeyEncryptionKey::from_bytes([3; 32]);
    let dek = DataKey::from_bytes([4; 32]);
    let w = WrappedKey::wrap(&kek, &id("ds@1/a"), &dek).unwrap();
    let text = w.to_string();
    assert_eq!(text.len(), 146);
    assert!(text.starts_with("01"));
    let bytes = w.as_bytes().to_vec();
    for pos in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[pos] ^= 1 << bit;
            let tampered: WrappedKey = hex::encode(&b).parse().unwrap();
            assert!(
                tampered.unwrap(&kek, &id("ds@1/a")).is_err(),
                "byte {pos} bit {bit}"
            );
        }
    }
    for bad in [
        "",
        "01",
        &text[..144],
        &text.to_uppercase(),
        &format!("{text}00"),
        &text.replacen('0', "g", 1),
    ] {
        assert!(bad.parse::<WrappedKey>().is_err(), "{bad}");
    }
    let json = serde_json::to_string(&w).unwrap();
    assert_eq!(serde_json::from_str::<WrappedKey>(&json).unwrap(), w);
}

#[test]
fn sealed_kek_opens_with_the_age_crate_reader() {
    let kek = KeyEncryptionKey::generate().unwrap();
    let ours = Identity::generate();
    let sealed = seal_kek(&kek, &[ours.to_public()]).unwrap();
    assert!(sealed.starts_with(b"age-encryption.org/v1\n"));
    // Open with the age crate directly, from the identity's text form.
    let theirs: age::x25519::Identity = ours.to_secret_string().parse().unwrap();
    let dec = age::Decryptor::new(&sealed[..]).unwrap();
    let mut out = Vec::new();
    dec.decrypt(std::iter::once(&theirs as &dyn age::Identity))
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, kek.expose_secret());
}

#[test]
fn kek_sealed_by_the_age_crate_opens_with_ours() {
    let kek = KeyEncryptionKey::generate().unwrap();
    let theirs = age::x25519::Identity::generate();
    let enc = age::Encryptor::with_recipients(std::iter::once(
        &theirs.to_public() as &dyn age::Recipient
    ))
    .unwrap();
    let mut sealed = Vec::new();
    let mut w = enc.wrap_output(&mut sealed).unwrap();
    w.write_all(kek.expose_secret()).unwrap();
    w.finish().unwrap();
    use age::secrecy::ExposeSecret;
    let ours = Identity::parse_file(theirs.to_string().expose_secret()).unwrap();
    assert_eq!(open_kek(&sealed, &ours).unwrap(), kek);
}

#[test]
fn several_recipients_each_open_it_and_strangers_do_not() {
    let kek = KeyEncryptionKey::generate().unwrap();
    let ids: Vec<Identity> = (0..3).map(|_| Identity::generate()).collect();
    let recipients: Vec<Recipient> = ids.iter().map(Identity::to_public).collect();
    let sealed = seal_kek(&kek, &recipients).unwrap();
    for i in &ids {
        assert_eq!(open_kek(&sealed, std::slice::from_ref(i)).unwrap(), kek);
    }
    assert!(matches!(
        open_kek(&sealed, &[Identity::generate()]),
        Err(Error::Age(_))
    ));
    assert!(matches!(seal_kek(&kek, &[]), Err(Error::Age(_))));
    assert!(matches!(
        open_kek(b"not an age file", &ids),
        Err(Error::Age(_))
    ));
    let mut flipped = sealed.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(open_kek(&flipped, &ids).is_err());
}

#[test]
fn sealed_sections_round_trip_and_are_bounded() {
    let id = Identity::generate();
    let data = b"{\"objects\":[]}".repeat(100);
    let sealed = dataseal_crypt::seal_to_recipients(&data, &[id.to_public()]).unwrap();
    let opened =
        dataseal_crypt::open_sealed(&sealed, std::slice::from_ref(&id), data.len()).unwrap();
    assert_eq!(opened.as_slice(), data.as_slice());
    assert!(
        dataseal_crypt::open_sealed(&sealed, std::slice::from_ref(&id), data.len() - 1).is_err()
    );
    assert!(dataseal_crypt::open_sealed(&sealed, &[Identity::generate()], data.len()).is_err());
    assert!(dataseal_crypt::seal_to_recipients(&data, &[]).is_err());
}

#[test]
fn payloads_other_than_32_bytes_are_refused() {
    let id = Identity::generate();
    let theirs: age::x25519::Identity = id.to_secret_string().parse().unwrap();
    for len in [0, 31, 33, 64] {
        let enc = age::Encryptor::with_recipients(std::iter::once(
            &theirs.to_public() as &dyn age::Recipient
        ))
        .unwrap();
        let mut sealed = Vec::new();
        let mut w = enc.wrap_output(&mut sealed).unwrap();
        w.write_all(&vec![1u8; len]).unwrap();
        w.finish().unwrap();
        assert!(
            matches!(
                open_kek(&sealed, std::slice::from_ref(&id)),
                Err(Error::Age(_))
            ),
            "{len}"
        );
    }
}

#[test]
fn identity_files_parse_like_age_keygen_writes_them() {
    let id = Identity::generate();
    let file = id.to_identity_file("2026-01-01T00:00:00Z".parse().unwrap());
    assert!(file.starts_with("# created: 2026-01-01T00:00:00Z\n# public key: age1"));
    let parsed = Identity::parse_file(&file).unwrap();
    assert_eq!(parsed.len(), 1);
    assert_eq!(
        parsed[0].to_public().to_string(),
        id.to_public().to_string()
    );
    assert!(Identity::parse_file("# only a comment\n\n").is_err());
    let err = Identity::parse_file("# c\nAGE-SECRET-KEY-1NOTAKEY\n").unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    assert!("age1notarecipient".parse::<Recipient>().is_err());
    assert!(format!("{id:?}").starts_with("Identity(public: age1"));
}

/// The `rage` command-line tool, when installed (`.ci/run` installs it; under `CI=true` its
/// absence is a failure).
fn rage() -> Option<String> {
    let found = Command::new("rage")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        Some("rage".to_owned())
    } else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "rage is not installed (required under CI=true)"
        );
        eprintln!("skipping: rage is not installed");
        None
    }
}

#[test]
fn rage_cli_opens_our_sealed_kek_and_we_open_its_output() {
    let Some(rage) = rage() else { return };
    let dir = tempfile::tempdir().unwrap();
    let id = Identity::generate();
    let key_path = dir.path().join("recipient.key");
    std::fs::write(
        &key_path,
        id.to_identity_file("2026-01-01T00:00:00Z".parse().unwrap())
            .as_bytes(),
    )
    .unwrap();

    // Ours → rage.
    let kek = KeyEncryptionKey::generate().unwrap();
    let sealed_path = dir.path().join("kek.age");
    std::fs::write(&sealed_path, seal_kek(&kek, &[id.to_public()]).unwrap()).unwrap();
    let out = Command::new(&rage)
        .arg("-d")
        .arg("-i")
        .arg(&key_path)
        .arg(&sealed_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rage -d: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, kek.expose_secret());

    // rage → ours.
    let kek2 = KeyEncryptionKey::generate().unwrap();
    let plain_path = dir.path().join("kek2.bin");
    std::fs::write(&plain_path, kek2.expose_secret()).unwrap();
    let sealed2 = dir.path().join("kek2.age");
    let out = Command::new(&rage)
        .arg("-e")
        .arg("-r")
        .arg(id.to_public().to_string())
        .arg("-o")
        .arg(&sealed2)
        .arg(&plain_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rage -e: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let opened = open_kek(&std::fs::read(&sealed2).unwrap(), &[id]).unwrap();
    assert_eq!(opened, kek2);
}
