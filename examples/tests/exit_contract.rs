//! The binary contract: whatever it is given, every subcommand exits with a code from 0
//! to 5 (never a panic's 101, never a signal). Each subcommand is run with every
//! hostile input in each of its file positions: a missing file, an empty one, random
//! bytes, a directory, deeply nested JSON, JSON of the wrong shape, absurd numbers, a
//! key-shaped file that is not a key.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DATASEAL: &str = env!("CARGO_BIN_EXE_dataseal");

/// Hostile inputs, by name, written into `dir`.
fn hostile_files(dir: &Path) -> Vec<String> {
    let mut garbage = Vec::with_capacity(70_000);
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..70_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        garbage.push((x >> 24) as u8);
    }
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("garbage", garbage),
        ("nested.json", nested.into_bytes()),
        ("object.json", b"{}".to_vec()),
        ("array.json", b"[1, 2, 3]".to_vec()),
        (
            "numbers.json",
            br#"{"size": 18446744073709551615, "n": 1e400, "t": -9223372036854775808}"#.to_vec(),
        ),
        (
            "pem.key",
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_vec(),
        ),
        ("nul", b"\0\0\0\0".to_vec()),
        ("utf16", vec![0xff, 0xfe, b'{', 0, b'}', 0]),
    ];
    let mut names = vec!["missing".to_owned()];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
        names.push(name.to_owned());
    }
    std::fs::create_dir_all(dir.join("a-dir")).unwrap();
    names.push("a-dir".to_owned());
    names
}

/// Command lines with `@` where a hostile file goes. Stores are `dir:` stores and the
/// registry an SQLite file, so nothing waits on a network.
const TEMPLATES: &[&str] = &[
    "keygen --data-key --out keygen-@",
    "encrypt --key @ --object-id obj-1 @ out-enc",
    "encrypt --key @ --object-id obj-1 garbage out-enc2",
    "decrypt --key @ --header @ @ out-dec",
    "decrypt --key garbage --header @ garbage out-dec2",
    "cid @",
    "put --store dir:store @",
    "get --store dir:@ bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy out-get",
    "car import --store dir:store @",
    "car export --store dir:@ bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy out.car",
    "manifest build --name n --version 1.0.0 @",
    "manifest sign --key @ --role publisher @",
    "manifest verify @",
    "manifest cid @",
    "authorize --entities @ --request @",
    "authorize --entities object.json --request @",
    "grant verify --key @ @",
    "grant issue --key @ --issuer i --principal user:tess --cid bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy --action train --purpose training --region DE",
    "audit verify @",
    "providers score --events @",
    "providers attest --key @ --events @ --out out-attest",
    "providers simulate --scenario @ --seed 1",
    "publish --store dir:store --key @ --recipient @ --meta @ @",
    "fetch --store dir:store --catalog @ --identity @ --trust @=publisher --entities @ --principal user:tess --purpose training --region DE bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy out-fetch",
    "verify --store dir:@ --trust @=publisher bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
    "repair --store dir:store --catalog @ --trust @=publisher bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
    "registry --registry sqlite:@ status bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
    "registry --registry sqlite:reg.db register --envelope @ --trust @=publisher --as user:u --role publisher --reason r",
    "registry --registry sqlite:reg.db receipt verify --trust @=privacy @",
];

#[test]
fn no_input_makes_any_subcommand_exit_outside_0_to_5() {
    let dir = tempfile::tempdir().unwrap();
    let names = hostile_files(dir.path());
    let mut runs = 0;
    let mut broken = Vec::new();
    for template in TEMPLATES {
        for name in &names {
            let args: Vec<String> = template.split(' ').map(|a| a.replace('@', name)).collect();
            let mut child = Command::new(DATASEAL)
                .current_dir(dir.path())
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let started = Instant::now();
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break Some(status);
                }
                if started.elapsed() > Duration::from_secs(60) {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                std::thread::sleep(Duration::from_millis(5));
            };
            runs += 1;
            match status.and_then(|s| s.code()) {
                Some(code) if (0..=5).contains(&code) => {}
                other => {
                    let mut stderr = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        use std::io::Read;
                        let _ = e.read_to_string(&mut stderr);
                    }
                    broken.push(format!(
                        "dataseal {}: {other:?} (None: a signal or over 60 s)\n{}",
                        args.join(" "),
                        stderr.lines().take(5).collect::<Vec<_>>().join("\n")
                    ));
                }
            }
        }
    }
    assert!(runs > 250, "{runs} runs");
    assert!(broken.is_empty(), "{}", broken.join("\n\n"));
}
