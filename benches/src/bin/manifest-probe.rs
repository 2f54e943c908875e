//! Times manifest work on real files, for side-by-side runs against other signing tools.
//!
//! ```text
//! manifest-probe gen DIR FILES TOTAL_BYTES     deterministic files (FILES of equal size)
//! manifest-probe sign DIR KEY OUT              build (hash every file) + sign, in the role publisher
//! manifest-probe verify DIR PUB ENVELOPE       verify the signature + check every file
//! manifest-probe entries N                     N objects with digests supplied: build, sign, verify
//! ```
//!
//! `sign` and `verify` are meant to be timed from outside (hyperfine); `entries` prints
//! one JSON line with the time of each stage and the envelope size.
#![allow(clippy::print_stdout, reason = "a measuring tool prints its results")]

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use dataseal_base::dsse::TrustPolicy;
use dataseal_base::{SigningKey, Timestamp, VerifyingKey};
use dataseal_manifest::{
    CanonicalPath, LicenseConditions, LicenseTier, Manifest, ObjectEntry, Provenance,
    SCHEMA_VERSION, Sensitivity, Sha256Digest, build_objects, check_dir, sign, verify,
};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn base_manifest(objects: Vec<ObjectEntry>) -> Result<Manifest> {
    Ok(Manifest {
        consent: None,
        created: "2026-11-21T00:00:00Z".parse()?,
        creator: vec![],
        dataset_id: "probe".parse()?,
        description: String::new(),
        ignore: vec![],
        license: "CC0-1.0".parse()?,
        license_conditions: LicenseConditions {
            academic_use: true,
            attribution: false,
            commercial_use: true,
            non_commercial_use: true,
            share_alike: false,
            tier: LicenseTier::Open,
        },
        name: "probe".into(),
        objects,
        pii: false,
        provenance: Provenance::default(),
        publisher: None,
        purposes: BTreeSet::new(),
        regions: BTreeSet::new(),
        retention: None,
        schema_version: SCHEMA_VERSION,
        sealed: None,
        sensitivity: Sensitivity::Public,
        version: "1.0.0".parse()?,
        was_revision_of: None,
    })
}

fn generate(dir: &Path, files: u64, total: u64) -> Result<()> {
    let size = usize::try_from(total / files.max(1))?;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut buf = vec![0u8; size];
    for i in 0..files {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let bytes = x.to_le_bytes();
            let n = chunk.len();
            chunk.copy_from_slice(bytes.get(..n).unwrap_or_default());
        }
        let sub = dir.join(format!("shard-{:03}", i % 16));
        fs::create_dir_all(&sub)?;
        fs::write(sub.join(format!("file-{i:06}.bin")), &buf)?;
    }
    Ok(())
}

fn key(path: &Path) -> Result<SigningKey> {
    if path.exists() {
        Ok(SigningKey::from_pkcs8_pem(&fs::read_to_string(path)?)?)
    } else {
        let k = SigningKey::generate()?;
        fs::write(path, k.to_pkcs8_pem()?.as_bytes())?;
        fs::write(path.with_extension("pub"), k.verifying_key().to_spki_pem()?)?;
        Ok(k)
    }
}

fn sign_dir(dir: &Path, key_path: &Path, out: &Path) -> Result<()> {
    let k = key(key_path)?;
    let m = base_manifest(build_objects(dir, &[], None)?)?;
    let env = sign(&m, &k, "publisher".parse()?)?;
    fs::write(out, env.to_json())?;
    Ok(())
}

fn verify_dir(dir: &Path, pub_path: &Path, envelope: &Path) -> Result<()> {
    let key = VerifyingKey::from_spki_pem(&fs::read_to_string(pub_path)?)?;
    let policy = TrustPolicy::new().trust(key, "publisher".parse()?);
    let v = verify(&fs::read(envelope)?, &policy, Timestamp::now())?;
    let checks = check_dir(v.manifest(), dir)?;
    if let Some(bad) = checks.iter().find(|c| c.is_failure()) {
        return Err(format!("{bad:?}").into());
    }
    Ok(())
}

fn entries(n: u64) -> Result<()> {
    let k = SigningKey::generate()?;
    let t0 = Instant::now();
    let objects = (0..n)
        .map(|i| {
            let mut d = [0u8; 32];
            d.get_mut(..8)
                .unwrap_or_default()
                .copy_from_slice(&i.to_be_bytes());
            Ok(ObjectEntry::public(
                CanonicalPath::new(format!("shard-{:03}/file-{i:08}.bin", i % 1000))?,
                4096,
                Sha256Digest(d),
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut objects = objects;
    objects.sort_by(|a, b| a.path.cmp(&b.path));
    let m = base_manifest(objects)?;
    let t_build = t0.elapsed();
    let t1 = Instant::now();
    let env = sign(&m, &k, "publisher".parse()?)?;
    let json = env.to_json();
    let t_sign = t1.elapsed();
    let policy = TrustPolicy::new().trust(k.verifying_key(), "publisher".parse()?);
    let t2 = Instant::now();
    let v = verify(json.as_bytes(), &policy, Timestamp::now())?;
    let t_verify = t2.elapsed();
    let line = format!(
        "{{\"entries\":{n},\"build_s\":{:.3},\"sign_s\":{:.3},\"verify_s\":{:.3},\"total_s\":{:.3},\"envelope_bytes\":{},\"bytes_per_entry\":{:.1},\"objects\":{}}}",
        t_build.as_secs_f64(),
        t_sign.as_secs_f64(),
        t_verify.as_secs_f64(),
        (t_build + t_sign + t_verify).as_secs_f64(),
        json.len(),
        json.len() as f64 / n.max(1) as f64,
        v.manifest().objects.len()
    );
    writeln!(std::io::stdout().lock(), "{line}")?;
    Ok(())
}

fn run(args: &[String]) -> Result<()> {
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["gen", dir, files, total] => generate(Path::new(dir), files.parse()?, total.parse()?),
        ["sign", dir, key, out] => sign_dir(Path::new(dir), Path::new(key), Path::new(out)),
        ["verify", dir, public, env] => verify_dir(Path::new(dir), Path::new(public), Path::new(env)),
        ["entries", n] => entries(n.parse()?),
        _ => Err("usage: manifest-probe gen DIR FILES TOTAL | sign DIR KEY OUT | verify DIR PUB ENVELOPE | entries N".into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "manifest-probe: {e}");
            ExitCode::FAILURE
        }
    }
}
