//! Runs the built `dataseal` and `quickstart` binaries and checks the command-line
//! contract: outputs, `--json` fields, exit codes, and that a failed run leaves no output
//! file behind.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions: a panic is a test failure"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dataseal_base::Cid;
use dataseal_crypt::ObjectHeader;
use serde_json::Value;
use tempfile::TempDir;

const DATASEAL: &str = env!("CARGO_BIN_EXE_dataseal");
const QUICKSTART: &str = env!("CARGO_BIN_EXE_quickstart");
const C: usize = 65_536;
const P: usize = C - 16;

fn dataseal<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(DATASEAL).args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
}

/// A failure with `code`, one `dataseal: error:` line on stderr (or clap's usage message), nothing on stdout, and
/// none of `outputs` in existence.
#[track_caller]
fn assert_fails(out: &Output, code: i32, outputs: &[&Path]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(out.stdout.is_empty(), "stdout: {}", stdout(out));
    for path in outputs {
        assert!(!path.exists(), "{} exists after a failure", path.display());
    }
    if err.starts_with("dataseal: error: ") {
        assert_eq!(err.lines().count(), 1, "stderr: {err}");
    } else {
        // Only clap's own usage errors have their own format.
        assert_eq!(code, 2, "stderr: {err}");
        assert!(err.starts_with("error: "), "stderr: {err}");
    }
}

/// Deterministic, non-repeating bytes.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u64)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .rotate_left(17) as u8
                ^ (i >> 8) as u8
        })
        .collect()
}

struct Fixture {
    dir: TempDir,
    key: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("dek");
        assert_ok(&dataseal([
            "keygen".as_ref(),
            "--data-key".as_ref(),
            "--out".as_ref(),
            key.as_os_str(),
        ]));
        Self { dir, key }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `data` to `name` and encrypts it into `name.enc/`; returns the outdir and
    /// the parsed `--json` output.
    fn encrypt(&self, name: &str, data: &[u8], chunk_size: Option<usize>) -> (PathBuf, Value) {
        let input = self.path(name);
        fs::write(&input, data).unwrap();
        let outdir = self.path(&format!("{name}.enc"));
        let mut cmd = Command::new(DATASEAL);
        cmd.arg("encrypt")
            .arg("--json")
            .arg("--key")
            .arg(&self.key)
            .arg("--object-id")
            .arg(format!("test@1.0.0/{name}"));
        if let Some(c) = chunk_size {
            cmd.arg("--chunk-size").arg(c.to_string());
        }
        let out = cmd.arg(&input).arg(&outdir).output().unwrap();
        assert_ok(&out);
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        (outdir, json)
    }

    fn decrypt(&self, outdir: &Path, ciphertext: &Path, extra: &[&str], output: &Path) -> Output {
        Command::new(DATASEAL)
            .arg("decrypt")
            .arg("--key")
            .arg(&self.key)
            .arg("--header")
            .arg(outdir.join("header.json"))
            .args(extra)
            .arg(ciphertext)
            .arg(output)
            .output()
            .unwrap()
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn keygen_directory() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("new").join("keys");
    let out = dataseal([
        "keygen".as_ref(),
        "--json".as_ref(),
        "--out".as_ref(),
        keys.as_os_str(),
    ]);
    assert_ok(&out);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["files"].as_array().unwrap().len(), 4);
    assert_eq!(mode(&keys), 0o700, "a new key directory is private");

    let signing = fs::read_to_string(keys.join("signing.key")).unwrap();
    assert!(
        signing.starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "{signing}"
    );
    assert!(dataseal_base::SigningKey::from_pkcs8_pem(&signing).is_ok());
    let public = fs::read_to_string(keys.join("signing.pub")).unwrap();
    assert!(
        public.starts_with("-----BEGIN PUBLIC KEY-----\n"),
        "{public}"
    );
    assert!(dataseal_base::VerifyingKey::from_spki_pem(&public).is_ok());

    let identity = fs::read_to_string(keys.join("recipient.key")).unwrap();
    let recipient = fs::read_to_string(keys.join("recipient.pub")).unwrap();
    assert!(recipient.starts_with("age1") && recipient.ends_with('\n'));
    assert_eq!(recipient.lines().count(), 1);
    assert_eq!(json["recipient"].as_str().unwrap(), recipient.trim_end());
    let created = identity
        .lines()
        .find_map(|l| l.strip_prefix("# created: "))
        .unwrap();
    // RFC 3339, UTC: 2025-01-31T09:30:00Z
    assert_eq!(created.len(), 20, "{created}");
    assert!(
        created.ends_with('Z') && created.as_bytes()[10] == b'T',
        "{created}"
    );
    assert!(identity.contains(&format!("# public key: {}", recipient.trim_end())));
    assert!(identity.contains("\nAGE-SECRET-KEY-1"));
    let parsed = dataseal_crypt::Identity::parse_file(&identity).unwrap();
    assert_eq!(parsed[0].to_public().to_string(), recipient.trim_end());

    #[cfg(unix)]
    {
        assert_eq!(mode(&keys.join("signing.key")), 0o600);
        assert_eq!(mode(&keys.join("recipient.key")), 0o600);
    }

    // Never overwritten, not even one file of the set.
    let again = dataseal(["keygen".as_ref(), "--out".as_ref(), keys.as_os_str()]);
    assert_fails(&again, 2, &[]);
    assert!(stderr(&again).contains("overwrite"));
    assert_eq!(
        fs::read_to_string(keys.join("signing.key")).unwrap(),
        signing
    );
    assert_eq!(
        fs::read_to_string(keys.join("recipient.key")).unwrap(),
        identity
    );

    let partial = dir.path().join("partial");
    fs::create_dir(&partial).unwrap();
    fs::write(partial.join("recipient.pub"), "mine\n").unwrap();
    let out = dataseal(["keygen".as_ref(), "--out".as_ref(), partial.as_os_str()]);
    assert_fails(
        &out,
        2,
        &[
            &partial.join("signing.key"),
            &partial.join("signing.pub"),
            &partial.join("recipient.key"),
        ],
    );
    assert_eq!(fs::read_dir(&partial).unwrap().count(), 1);
    assert_eq!(
        fs::read_to_string(partial.join("recipient.pub")).unwrap(),
        "mine\n"
    );
}

#[test]
fn keygen_data_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dek");
    assert_ok(&dataseal([
        "keygen".as_ref(),
        "--data-key".as_ref(),
        "--out".as_ref(),
        file.as_os_str(),
    ]));
    let text = fs::read_to_string(&file).unwrap();
    assert_eq!(text.len(), 65);
    assert!(text.ends_with('\n'));
    assert!(
        text.trim_end()
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);

    let again = dataseal([
        "keygen".as_ref(),
        "--data-key".as_ref(),
        "--out".as_ref(),
        file.as_os_str(),
    ]);
    assert_fails(&again, 2, &[]);
    assert_eq!(fs::read_to_string(&file).unwrap(), text);
    // Only the key file itself: no temporary file left behind.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

    // Two keys differ.
    let other = dir.path().join("dek2");
    assert_ok(&dataseal([
        "--json".as_ref(),
        "keygen".as_ref(),
        "--data-key".as_ref(),
        "--out".as_ref(),
        other.as_os_str(),
    ]));
    assert_ne!(fs::read_to_string(&other).unwrap(), text);
}

#[test]
fn round_trips() {
    let fx = Fixture::new();
    for (name, len, chunk) in [
        ("empty", 0usize, None),
        ("one", 1, None),
        ("exact", P, Some(C)),
        ("multi", 3 * P + 12_345, Some(C)),
        ("big", 1_200_000, None),
    ] {
        let data = pattern(len);
        let (outdir, json) = fx.encrypt(name, &data, chunk);
        let chunk_size = chunk.unwrap_or(1 << 20);
        let expected_chunks = len.div_ceil(chunk_size - 16).max(1);

        let obj = json.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "chunk_cids",
                "chunk_count",
                "chunk_size",
                "object_id",
                "plaintext_len",
                "root_cid"
            ]
        );
        assert_eq!(json["object_id"], format!("test@1.0.0/{name}"));
        assert_eq!(json["plaintext_len"], len as u64);
        assert_eq!(json["chunk_size"], chunk_size as u64);
        assert_eq!(json["chunk_count"], expected_chunks as u64);
        let cids = json["chunk_cids"].as_array().unwrap();
        assert_eq!(cids.len(), expected_chunks, "{name}");

        // Each CID names its chunk of the ciphertext.
        let ciphertext = fs::read(outdir.join("ciphertext")).unwrap();
        assert_eq!(ciphertext.len(), len + 16 * expected_chunks);
        for (i, (cid, chunk)) in cids.iter().zip(ciphertext.chunks(chunk_size)).enumerate() {
            let cid = cid.as_str().unwrap();
            assert!(cid.starts_with("bafkrei"), "{cid}");
            assert!(
                cid.parse::<Cid>().unwrap().verify(chunk),
                "{name} chunk {i}"
            );
        }

        let header_text = fs::read_to_string(outdir.join("header.json")).unwrap();
        assert!(header_text.ends_with("}\n"));
        let header = ObjectHeader::from_json(header_text.as_bytes()).unwrap();
        assert_eq!(header.plaintext_len(), len as u64);
        assert_eq!(header.chunk_count(), expected_chunks as u64);

        let plain = fx.path(&format!("{name}.out"));
        let out = Command::new(DATASEAL)
            .args(["--json", "decrypt", "--key"])
            .arg(&fx.key)
            .arg("--header")
            .arg(outdir.join("header.json"))
            .arg(outdir.join("ciphertext"))
            .arg(&plain)
            .output()
            .unwrap();
        assert_ok(&out);
        assert_eq!(fs::read(&plain).unwrap(), data, "{name}");
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["bytes_written"], len as u64);
        assert_eq!(json["plaintext_len"], len as u64);
        assert_eq!(json["offset"], 0);
        assert_eq!(json["object_id"], format!("test@1.0.0/{name}"));
        #[cfg(unix)]
        assert_eq!(mode(&plain), 0o600);
    }
    // Nothing but the outputs in the output directory: no temporary files.
    let mut names: Vec<String> = fs::read_dir(fx.path("multi.enc"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["ciphertext", "header.json"]);
}

#[test]
fn ranges() {
    let fx = Fixture::new();
    let data = pattern(3 * P + 100);
    let (outdir, _) = fx.encrypt("data", &data, Some(C));
    let ct = outdir.join("ciphertext");
    for (offset, len) in [
        (P - 10, 30),
        (P - 1, 2),
        (0, P + 1),
        (P, P),
        (2 * P - 5, P + 50),
        (0, data.len()),
        (data.len() - 1, 1),
        (data.len(), 0),
        (17, 0),
    ] {
        let output = fx.path(&format!("range-{offset}-{len}"));
        let range = format!("{offset}:{len}");
        let out = Command::new(DATASEAL)
            .args(["decrypt", "--json", "--range", &range, "--key"])
            .arg(&fx.key)
            .arg("--header")
            .arg(outdir.join("header.json"))
            .arg(&ct)
            .arg(&output)
            .output()
            .unwrap();
        assert_ok(&out);
        assert_eq!(
            fs::read(&output).unwrap(),
            &data[offset..offset + len],
            "{range}"
        );
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["offset"], offset as u64);
        assert_eq!(json["bytes_written"], len as u64);
        assert_eq!(json["plaintext_len"], data.len() as u64);
    }

    // Out of bounds or unparsable: exit 2, no output.
    let output = fx.path("bad-range");
    let end = data.len();
    for range in [
        format!("{end}:1"),
        format!("{}:2", end - 1),
        format!("0:{}", end + 1),
        "18446744073709551615:2".to_owned(),
        "1:18446744073709551615".to_owned(),
        "x".to_owned(),
        "10".to_owned(),
        "10:".to_owned(),
        ":10".to_owned(),
        "1:2:3".to_owned(),
        "a:b".to_owned(),
        "99999999999999999999999:1".to_owned(),
        "-1:2".to_owned(),
    ] {
        let arg = format!("--range={range}");
        let out = fx.decrypt(&outdir, &ct, &[&arg], &output);
        assert_fails(&out, 2, &[&output]);
    }

    // A range only reads the chunks it needs, but still checks them.
    let mut tampered = fs::read(&ct).unwrap();
    tampered[C + 5] ^= 0x80;
    let bad = fx.path("tampered");
    fs::write(&bad, &tampered).unwrap();
    assert_ok(&fx.decrypt(&outdir, &bad, &["--range", "0:100"], &output));
    fs::remove_file(&output).unwrap();
    let out = fx.decrypt(
        &outdir,
        &bad,
        &["--range", &format!("{}:10", P - 5)],
        &output,
    );
    assert_fails(&out, 1, &[&output]);
    assert!(stderr(&out).contains("chunk 1"), "{}", stderr(&out));
}

#[test]
fn integrity_failures_exit_1() {
    let fx = Fixture::new();
    let data = pattern(4 * P + 7);
    let (outdir, _) = fx.encrypt("data", &data, Some(C));
    let ct = fs::read(outdir.join("ciphertext")).unwrap();
    let output = fx.path("plain");

    // One flipped byte in chunk N names chunk N.
    for n in [0usize, 2, 4] {
        let mut bad = ct.clone();
        let at = (n * C + 100).min(bad.len() - 1);
        bad[at] ^= 0x01;
        let path = fx.path(&format!("tampered-{n}"));
        fs::write(&path, &bad).unwrap();
        for json in [false, true] {
            let extra: &[&str] = if json { &["--json"] } else { &[] };
            let out = fx.decrypt(&outdir, &path, extra, &output);
            assert_fails(&out, 1, &[&output]);
            assert!(
                stderr(&out).contains(&format!("chunk {n}")),
                "{}",
                stderr(&out)
            );
        }
    }

    // A trailing byte.
    let mut long = ct.clone();
    long.push(0);
    let path = fx.path("trailing");
    fs::write(&path, &long).unwrap();
    assert_fails(&fx.decrypt(&outdir, &path, &[], &output), 1, &[&output]);
    assert_fails(
        &fx.decrypt(&outdir, &path, &["--range", "0:10"], &output),
        1,
        &[&output],
    );

    // A truncated ciphertext.
    let path = fx.path("truncated");
    fs::write(&path, &ct[..ct.len() - 1]).unwrap();
    let out = fx.decrypt(&outdir, &path, &[], &output);
    assert_fails(&out, 1, &[&output]);
    assert!(stderr(&out).contains("chunk 4"), "{}", stderr(&out));

    // Another data key.
    let other = fx.path("other-key");
    assert_ok(&dataseal([
        "keygen".as_ref(),
        "--data-key".as_ref(),
        "--out".as_ref(),
        other.as_os_str(),
    ]));
    let out = Command::new(DATASEAL)
        .arg("decrypt")
        .arg("--key")
        .arg(&other)
        .arg("--header")
        .arg(outdir.join("header.json"))
        .arg(outdir.join("ciphertext"))
        .arg(&output)
        .output()
        .unwrap();
    assert_fails(&out, 1, &[&output]);

    // A header from another object (same key): the commitment does not match.
    let (other_dir, _) = fx.encrypt("other", &data, Some(C));
    let out = Command::new(DATASEAL)
        .arg("decrypt")
        .arg("--key")
        .arg(&fx.key)
        .arg("--header")
        .arg(other_dir.join("header.json"))
        .arg(outdir.join("ciphertext"))
        .arg(&output)
        .output()
        .unwrap();
    assert_fails(&out, 1, &[&output]);
}

#[test]
fn malformed_key_files_exit_2() {
    let fx = Fixture::new();
    let (outdir, _) = fx.encrypt("data", &pattern(1000), None);
    let input = fx.path("data");
    let output = fx.path("plain");
    let hex64 = fs::read_to_string(&fx.key).unwrap();
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("empty", Some(String::new())),
        ("short", Some(hex64[..62].to_owned() + "\n")),
        ("long", Some(hex64.trim_end().to_owned() + "00\n")),
        ("nonhex", Some("zz".to_owned() + &hex64[2..])),
        ("two-lines", Some(hex64.clone() + "\n")),
        ("binary", Some("\u{0}".repeat(64))),
        ("huge", Some("0".repeat(100_000))),
    ];
    for (name, contents) in cases {
        let key = fx.path(&format!("key-{name}"));
        if let Some(text) = contents {
            fs::write(&key, text).unwrap();
        }
        let enc_out = fx.path(&format!("enc-{name}"));
        let out = Command::new(DATASEAL)
            .args(["encrypt", "--json", "--object-id", "a/b", "--key"])
            .arg(&key)
            .arg(&input)
            .arg(&enc_out)
            .output()
            .unwrap();
        assert_fails(
            &out,
            2,
            &[&enc_out.join("ciphertext"), &enc_out.join("header.json")],
        );
        assert!(
            stderr(&out).contains(&format!("key-{name}")),
            "{}",
            stderr(&out)
        );

        let out = Command::new(DATASEAL)
            .arg("decrypt")
            .arg("--key")
            .arg(&key)
            .arg("--header")
            .arg(outdir.join("header.json"))
            .arg(outdir.join("ciphertext"))
            .arg(&output)
            .output()
            .unwrap();
        assert_fails(&out, 2, &[&output]);
    }
}

#[test]
fn malformed_headers_exit_2() {
    let fx = Fixture::new();
    let (outdir, _) = fx.encrypt("data", &pattern(1000), None);
    let good = fs::read_to_string(outdir.join("header.json")).unwrap();
    let output = fx.path("plain");
    let cases = [
        ("not-json", "hello".to_owned()),
        ("empty", String::new()),
        ("empty-object", "{}".to_owned()),
        ("unknown-field", good.replacen('{', "{\"extra\":1,", 1)),
        ("missing-field", good.replace("\"suite\":1,", "")),
        (
            "bad-version",
            good.replace("\"version\":1", "\"version\":2"),
        ),
        (
            "bad-count",
            good.replace("\"chunk_count\":1", "\"chunk_count\":2"),
        ),
        (
            "bad-size",
            good.replace("\"chunk_size\":1048576", "\"chunk_size\":1000"),
        ),
        ("truncated", good[..good.len() / 2].to_owned()),
    ];
    for (name, text) in cases {
        assert_ne!(text, good, "{name}");
        let header = fx.path(&format!("header-{name}.json"));
        fs::write(&header, text).unwrap();
        let out = Command::new(DATASEAL)
            .arg("decrypt")
            .arg("--key")
            .arg(&fx.key)
            .arg("--header")
            .arg(&header)
            .arg(outdir.join("ciphertext"))
            .arg(&output)
            .output()
            .unwrap();
        assert_fails(&out, 2, &[&output]);
        assert!(stderr(&out).contains("header"), "{}", stderr(&out));
    }
    // A missing header file, and a missing ciphertext file.
    let out = Command::new(DATASEAL)
        .arg("decrypt")
        .arg("--key")
        .arg(&fx.key)
        .arg("--header")
        .arg(fx.path("nope.json"))
        .arg(outdir.join("ciphertext"))
        .arg(&output)
        .output()
        .unwrap();
    assert_fails(&out, 2, &[&output]);
    let out = fx.decrypt(&outdir, &fx.path("nope"), &[], &output);
    assert_fails(&out, 2, &[&output]);
}

#[test]
fn bad_encrypt_arguments_exit_2() {
    let fx = Fixture::new();
    let input = fx.path("input");
    fs::write(&input, pattern(100_000)).unwrap();
    let outdir = fx.path("out");
    let outputs = [outdir.join("ciphertext"), outdir.join("header.json")];
    let outputs: Vec<&Path> = outputs.iter().map(PathBuf::as_path).collect();
    let run = |chunk: &str, id: &str, input: &Path| {
        Command::new(DATASEAL)
            .args([
                "encrypt",
                "--json",
                "--chunk-size",
                chunk,
                "--object-id",
                id,
            ])
            .arg("--key")
            .arg(&fx.key)
            .arg(input)
            .arg(&outdir)
            .output()
            .unwrap()
    };
    for chunk in [
        "0",
        "1",
        "32768",
        "65535",
        "100000",
        "2097152",
        "18446744073709551615",
        "abc",
        "-1",
        "",
    ] {
        assert_fails(&run(chunk, "a/b", &input), 2, &outputs);
    }
    for id in ["", "tab\there", &"x".repeat(1025)] {
        assert_fails(&run("65536", id, &input), 2, &outputs);
    }
    // Unreadable input: missing, and a directory (opens, then fails to read mid-way).
    assert_fails(&run("65536", "a/b", &fx.path("missing")), 2, &outputs);
    assert_fails(&run("65536", "a/b", fx.dir.path()), 2, &outputs);
    // No temporary file left behind either.
    if outdir.exists() {
        assert_eq!(fs::read_dir(&outdir).unwrap().count(), 0);
    }
    // And the same arguments with a good chunk size succeed.
    assert_ok(&run("65536", "a/b", &input));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["frobnicate"][..],
        &["keygen"][..],
        &["encrypt", "--key", "k", "in", "out"][..],
        &["decrypt", "--key", "k", "c", "o"][..],
    ] {
        let out = dataseal(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let help = dataseal(["--help"]);
    assert_ok(&help);
    for sub in ["keygen", "encrypt", "decrypt"] {
        assert!(stdout(&help).contains(sub));
    }
}

#[test]
fn quickstart_runs() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let out = Command::new(QUICKSTART)
        .arg("--dir")
        .arg(&work)
        .output()
        .unwrap();
    assert_ok(&out);
    let text = stdout(&out);
    for needle in [
        "bafkrei",
        "baguqeera",
        "on eu-",
        "a copy signed by the publisher alone is rejected: role compliance",
        "for research, with a grant     -> ALLOW [\"role.trainer.data\"]",
        "for research, without a grant  -> exit 3: denied by policy: grant.required",
        "on a revoked version           -> exit 4: version baguqeera",
        "audit.jsonl: 3 chained decisions, 2 signed checkpoints, verified",
        "integrity failures caught by re-hashing, every block served by eu-2;",
        "every byte in out/ matches the source",
        "eu-1  score",
        "eu-2  score",
        "done in",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    // Every step is numbered, in order.
    let steps: Vec<u8> = text
        .lines()
        .filter_map(|l| l.split_once(". ")?.0.parse().ok())
        .collect();
    assert_eq!(steps, (1..=8).collect::<Vec<_>>(), "{text}");
    // The fetched files are the source's, byte for byte.
    for file in ["labels.csv", "train/shard-0000.bin", "train/shard-0001.bin"] {
        let source = fs::read(work.join("dataset").join(file)).unwrap();
        assert_eq!(
            fs::read(work.join("out").join(file)).unwrap(),
            source,
            "{file}"
        );
    }
    assert!(work.join("meta.json").is_file());
    assert!(work.join("stores/eu-1/dataseal-blockstore").is_file());
    assert!(work.join("stores/eu-2/dataseal-blockstore").is_file());
    assert!(work.join("receipt.dsse.json").is_file());
    // The manifest it wrote verifies with the CLI's cid command, and its key is in the
    // broker, sealed to the reader.
    let cid = dataseal([
        "manifest".as_ref(),
        "cid".as_ref(),
        work.join("manifest.dsse.json").as_os_str(),
    ]);
    assert_ok(&cid);
    let cid = stdout(&cid).trim().to_owned();
    assert!(text.contains(&format!("manifest CID {cid}")), "{text}");
    assert!(work.join("keys").join(format!("{cid}.kek.age")).is_file());
    #[cfg(unix)]
    assert_eq!(mode(&work.join("keys").join("recipient.key")), 0o600);
    // The audit log holds every decision, the fetch's too, and verifies with the CLI.
    let audit = dataseal([
        "--json".as_ref(),
        "audit".as_ref(),
        "verify".as_ref(),
        work.join("audit.jsonl").as_os_str(),
    ]);
    assert_ok(&audit);
    let report: Value = serde_json::from_slice(&audit.stdout).unwrap();
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["report"]["records"], 4, "{report}");

    // Run again in the same directory: the earlier run's output is replaced.
    let again = Command::new(QUICKSTART)
        .arg("--dir")
        .arg(&work)
        .output()
        .unwrap();
    assert_ok(&again);
    assert!(stdout(&again).contains("every byte in out/ matches the source"));

    // With no arguments it makes (and keeps) a fresh temporary directory.
    let tmp = dir.path().join("tmp");
    fs::create_dir(&tmp).unwrap();
    let out = Command::new(QUICKSTART)
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert_ok(&out);
    let made: Vec<_> = fs::read_dir(&tmp).unwrap().collect();
    assert_eq!(made.len(), 1);
    let made = made.into_iter().next().unwrap().unwrap().path();
    assert!(stdout(&out).contains(&made.display().to_string()));
}
