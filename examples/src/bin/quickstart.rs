//! `quickstart`: the whole dataseal story on the embedded on-disk store, no server needed.
//!
//! It generates a small dataset and keys, encrypts every file into content-addressed
//! chunks in a `dir:` store, writes and signs (twice, in two roles) the manifest of the
//! version, verifies it, asks the policy engine whether a trainer may use it (with a
//! short-lived grant, and without), records every decision in a tamper-evident audit log,
//! fetches the ciphertext back through a lying provider and the honest store with every
//! block re-hashed, opens the sealed keys, decrypts, reads a range across a chunk
//! boundary, catches a flipped bit, and scores the two providers from what it saw.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use dataseal_base::dsse::TrustPolicy;
use dataseal_base::{Cid, SigningKey, Timestamp};
use dataseal_crypt::{
    ChunkSize, DataKey, Decryptor, Encryptor, Error as CryptError, Identity, KeyEncryptionKey,
    ObjectHeader, ObjectId, WrappedKey, open_kek, open_sealed, seal_kek, seal_to_recipients,
};
use dataseal_examples::{Failure, show};
use dataseal_manifest::{
    Agent, Approval, CanonicalPath, EncryptionHeader, LicenseConditions, LicenseTier, Manifest,
    ObjectEntry, Provenance, SCHEMA_VERSION, Sensitivity, Source, cosign, sign, verify,
};
use dataseal_policy::{
    AccessRequest, Action, AuditLog, EntityRef, EntityStore, GrantIssuer, GrantRequest,
    GrantVerifier, PolicyEngine, Principal, Resource, UserId, VersionRecord, VersionState,
    verify_log,
};
use dataseal_reputation::{
    DefaultModel, DefaultParams, Event, EventKind, Outcome, ProviderId, ScoringModel,
};
use dataseal_transport::{
    Block, DirStore, Faults, FaultyStore, MemoryStore, Transport, VerifiedRead, raw_leaves_root,
};
use serde::{Deserialize, Serialize};

const PROGRAM: &str = "quickstart";
const DATASET: &str = "quickstart-demo";
const VERSION: &str = "1.0.0";

/// Runs the whole dataseal story on a small generated dataset and prints what it did.
#[derive(Debug, Parser)]
#[command(name = "quickstart", version, about)]
struct Args {
    /// Work in DIR (created if missing; files of an earlier run there are replaced)
    /// instead of a fresh temporary directory. Either way the directory is kept.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// One file of the generated dataset.
struct Item {
    path: &'static str,
    bytes: Vec<u8>,
}

/// One encrypted, stored file.
struct Stored {
    path: CanonicalPath,
    object_id: ObjectId,
    header: ObjectHeader,
    root: Cid,
    blocks: Vec<Block>,
}

/// The sealed section of the manifest: what only holders of the reader's age identity
/// may read.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SealedSection {
    objects: Vec<SealedObject>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SealedObject {
    path: String,
    plaintext_sha256: String,
    wrapped_key: WrappedKey,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Failure::io("cannot start the async runtime", &e).report(PROGRAM),
    };
    match runtime.block_on(run(args.dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(PROGRAM),
    }
}

/// Prints one line on stdout.
fn out(line: &str) -> Result<(), Failure> {
    writeln!(io::stdout().lock(), "{line}").map_err(|e| Failure::io("cannot write to stdout", &e))
}

fn crypt(context: &str) -> impl Fn(CryptError) -> Failure + '_ {
    move |e| Failure::crypt(context, &e)
}

fn other(context: &str) -> impl Fn(&dyn std::fmt::Display) -> Failure + '_ {
    move |e| Failure::usage(format!("{context}: {e}"))
}

fn fail<E: std::fmt::Display>(context: &str) -> impl Fn(E) -> Failure + '_ {
    move |e| other(context)(&e)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    write_file_mode(path, bytes, false)
}

/// Writes atomically; `secret` files get mode 0600.
fn write_file_mode(path: &Path, bytes: &[u8], secret: bool) -> Result<(), Failure> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| Failure::io(format!("cannot create {}", show(parent)), &e))?;
    }
    let mut file = dataseal_examples::AtomicFile::create(path, secret)?;
    file.write_all(bytes)?;
    file.commit()
}

/// SplitMix64: a tiny deterministic generator, so every run makes the same dataset.
fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn dataset() -> Vec<Item> {
    let labels = ["cat", "dog", "bird", "fish", "horse"];
    let mut csv = String::from("id,label,split\n");
    for i in 0..12_000usize {
        let label = labels.get(i % labels.len()).copied().unwrap_or("cat");
        let split = if i % 10 == 0 { "val" } else { "train" };
        csv.push_str(&format!("{i},{label},{split}\n"));
    }
    vec![
        Item {
            path: "labels.csv",
            bytes: csv.into_bytes(),
        },
        Item {
            path: "train/shard-0000.bin",
            bytes: pseudo_random(1, 2_200_000),
        },
        Item {
            path: "train/shard-0001.bin",
            bytes: pseudo_random(2, 900_000),
        },
    ]
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Encrypts one file and cuts it into blocks: the ciphertext chunks (raw leaves) and
/// the UnixFS nodes above them.
fn encrypt_file(item: &Item, dek: &DataKey, chunk_size: ChunkSize) -> Result<Stored, Failure> {
    let path: CanonicalPath = item.path.parse().map_err(fail("path"))?;
    let object_id: ObjectId = format!("{DATASET}@{VERSION}/{}", item.path)
        .parse()
        .map_err(fail("object id"))?;
    let encryptor = Encryptor::new(dek, object_id.clone(), chunk_size).map_err(crypt("encrypt"))?;
    let mut blocks = Vec::new();
    let mut sink = |_: u64, ct: &[u8], _: &Cid| {
        blocks.push(Block::raw(ct.to_vec()));
        Ok(())
    };
    let header = encryptor
        .encrypt(item.bytes.as_slice(), &mut sink)
        .map_err(crypt(item.path))?;
    let (root, dag) = raw_leaves_root(blocks.iter().map(|b| (*b.cid(), b.len() as u64)))
        .map_err(fail("UnixFS"))?;
    blocks.extend(dag);
    Ok(Stored {
        path,
        object_id,
        header,
        root,
        blocks,
    })
}

fn manifest_of(stored: &[Stored], sealed: String, created: Timestamp) -> Result<Manifest, Failure> {
    let objects = stored
        .iter()
        .map(|s| {
            Ok(ObjectEntry {
                encryption: Some(
                    EncryptionHeader::from_json(&s.header.to_json()).map_err(fail("header"))?,
                ),
                path: s.path.clone(),
                root_cid: Some(s.root),
                sha256: None,
                size: s.header.plaintext_len(),
            })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    Ok(Manifest {
        consent: None,
        created,
        creator: vec![Agent::named("Quickstart Lab")],
        dataset_id: DATASET.parse().map_err(fail("dataset id"))?,
        description: "A generated image-classification dataset, encrypted client-side.".into(),
        ignore: vec![],
        license: "CC-BY-NC-4.0".parse().map_err(fail("licence"))?,
        license_conditions: LicenseConditions {
            academic_use: true,
            attribution: true,
            commercial_use: false,
            non_commercial_use: true,
            share_alike: false,
            tier: LicenseTier::ResearchOnly,
        },
        name: "Quickstart demo".into(),
        objects,
        pii: false,
        provenance: Provenance {
            approvals: vec![Approval {
                agent: Agent::named("Carol (compliance)"),
                role: "compliance".parse().map_err(fail("role"))?,
                time: created,
            }],
            reviewers: vec![Agent::named("Bob")],
            was_derived_from: vec![Source {
                digest: None,
                license: None,
                retrieved: Some(created),
                uri: "urn:dataseal:quickstart:generator".into(),
            }],
            was_generated_by: vec![],
        },
        publisher: Some(Agent::named("Quickstart Inc.")),
        purposes: BTreeSet::from([
            "research".parse().map_err(fail("purpose"))?,
            "training".parse().map_err(fail("purpose"))?,
        ]),
        regions: BTreeSet::from(["EU".parse().map_err(fail("region"))?]),
        retention: None,
        schema_version: SCHEMA_VERSION,
        sealed: Some(sealed),
        sensitivity: Sensitivity::Internal,
        version: VERSION.parse().map_err(fail("version"))?,
        was_revision_of: None,
    })
}

#[allow(clippy::too_many_lines, reason = "one linear, narrated story")]
async fn run(dir: Option<PathBuf>) -> Result<(), Failure> {
    let started = Instant::now();
    let root = match dir {
        Some(dir) => {
            fs::create_dir_all(&dir)
                .map_err(|e| Failure::io(format!("cannot create {}", show(&dir)), &e))?;
            dir
        }
        None => tempfile::Builder::new()
            .prefix("dataseal-quickstart-")
            .tempdir()
            .map_err(|e| Failure::io("cannot create a temporary directory", &e))?
            .keep(),
    };
    let now = Timestamp::now();
    out("dataseal quickstart: publish, sign, authorize, fetch and verify a dataset version")?;
    out(&format!("working directory: {}", show(&root)))?;
    out("")?;

    // 1. A small deterministic dataset.
    let items = dataset();
    let total: usize = items.iter().map(|i| i.bytes.len()).sum();
    for item in &items {
        write_file(&root.join("dataset").join(item.path), &item.bytes)?;
    }
    out(&format!(
        "1. generated {} files ({total} bytes) under dataset/",
        items.len()
    ))?;

    // 2. Keys.
    let publisher = SigningKey::generate().map_err(fail("key"))?;
    let compliance = SigningKey::generate().map_err(fail("key"))?;
    let grant_key = SigningKey::generate().map_err(fail("key"))?;
    let reader = Identity::generate();
    let kek = KeyEncryptionKey::generate().map_err(fail("key"))?;
    let keys = root.join("keys");
    write_file_mode(
        &keys.join("recipient.key"),
        reader.to_identity_file(now).as_bytes(),
        true,
    )?;
    out("2. generated keys: publisher and compliance Ed25519 keys, a grant-signing key, the")?;
    out(&format!(
        "   reader's age identity (keys/recipient.key, {}) and a key-encryption key",
        reader.to_public()
    ))?;

    // 3. Encrypt every file into 1 MiB chunks and put every block in the on-disk store.
    let store_dir = root.join("store");
    let store = DirStore::open(&store_dir).map_err(fail("store"))?;
    let chunk_size = ChunkSize::DEFAULT;
    let mut stored = Vec::new();
    let mut sealed_objects = Vec::new();
    let mut deks = Vec::new();
    for item in &items {
        let dek = DataKey::generate().map_err(fail("key"))?;
        let s = encrypt_file(item, &dek, chunk_size)?;
        for block in &s.blocks {
            store.put(block).await.map_err(fail("store"))?;
        }
        sealed_objects.push(SealedObject {
            path: item.path.to_owned(),
            plaintext_sha256: sha256_hex(&item.bytes),
            wrapped_key: WrappedKey::wrap(&kek, &s.object_id, &dek).map_err(crypt("wrap"))?,
        });
        out(&format!(
            "   {:<22} {:>9} bytes -> {} chunk(s), root {}",
            item.path,
            item.bytes.len(),
            s.header.chunk_count(),
            s.root
        ))?;
        deks.push(dek);
        stored.push(s);
    }
    out(&format!(
        "3. encrypted every file client-side in {chunk_size}-byte chunks into the dir: store {} ({} blocks)",
        show(&store_dir),
        stored.iter().map(|s| s.blocks.len()).sum::<usize>()
    ))?;

    // 4. Keys reach readers sealed: data keys wrapped under the KEK, the KEK and the
    // plaintext digests sealed to the reader's age recipient.
    let section = serde_json::to_vec(&SealedSection {
        objects: sealed_objects,
    })
    .map_err(fail("sealed section"))?;
    let sealed = seal_to_recipients(&section, &[reader.to_public()]).map_err(crypt("seal"))?;
    let kek_file = seal_kek(&kek, &[reader.to_public()]).map_err(crypt("seal the KEK"))?;
    write_file(&keys.join("kek.age"), &kek_file)?;
    out("4. wrapped each data key under the KEK and sealed the KEK to the reader (keys/kek.age;")?;
    out(
        "   `rage -d -i keys/recipient.key keys/kek.age` opens it); no plaintext digest is in the clear",
    )?;

    // 5. The manifest: signed by the publisher, co-signed by compliance.
    use base64ct::Encoding;
    let manifest = manifest_of(&stored, base64ct::Base64::encode_string(&sealed), now)?;
    let mut envelope = sign(
        &manifest,
        &publisher,
        "publisher".parse().map_err(fail("role"))?,
    )
    .map_err(fail("sign"))?;
    cosign(
        &mut envelope,
        &compliance,
        "compliance".parse().map_err(fail("role"))?,
    )
    .map_err(fail("cosign"))?;
    write_file(
        &root.join("manifest.dsse.json"),
        envelope.to_json().as_bytes(),
    )?;
    let payload = Block::new(
        dataseal_manifest::manifest_cid(envelope.payload_unverified()),
        envelope.payload_unverified().to_vec(),
    )
    .map_err(fail("manifest block"))?;
    store.put(&payload).await.map_err(fail("store"))?;
    out(
        "5. wrote the manifest (licence, purposes, regions, provenance, every object's header and root CID),",
    )?;
    out("   signed it as publisher and co-signed it as compliance: manifest.dsse.json")?;

    // 6. Verify: both roles are required.
    let trust = TrustPolicy::new()
        .trust(
            publisher.verifying_key(),
            "publisher".parse().map_err(fail("role"))?,
        )
        .trust(
            compliance.verifying_key(),
            "compliance".parse().map_err(fail("role"))?,
        );
    let version = verify(envelope.to_json().as_bytes(), &trust, now).map_err(fail("verify"))?;
    let single = sign(
        &manifest,
        &publisher,
        "publisher".parse().map_err(fail("role"))?,
    )
    .map_err(fail("sign"))?;
    let one_is_not_enough = verify(single.to_json().as_bytes(), &trust, now).is_err();
    out(&format!(
        "6. verified the signatures: dataset version {}",
        version.cid()
    ))?;
    out(&format!(
        "   (a copy signed by the publisher alone is {})",
        if one_is_not_enough {
            "rejected: dual approval needs both roles"
        } else {
            "ACCEPTED — this is a bug"
        }
    ))?;
    if !one_is_not_enough {
        return Err(Failure::verify(
            "a single signature met a dual-approval policy",
        ));
    }

    // 7. Policy: may trainer tess use this version? Every decision is audited.
    let engine = PolicyEngine::with_defaults().map_err(fail("policies"))?;
    let tess: UserId = "tess".parse().map_err(fail("user"))?;
    let record = VersionRecord {
        owner: "olivia".parse().map_err(fail("user"))?,
        organisation: "quickstart".parse().map_err(fail("organisation"))?,
        uploader: "ulrich".parse().map_err(fail("user"))?,
        state: VersionState::default(),
    };
    let mut builder = EntityStore::builder(&engine);
    builder
        .add_user(
            &tess,
            &[EntityRef::Role("trainer".parse().map_err(fail("role"))?)],
        )
        .map_err(fail("entities"))?;
    builder
        .add_version(&version, &record)
        .map_err(fail("entities"))?;
    let entities = builder.build().map_err(fail("entities"))?;
    let issuer = GrantIssuer::new(grant_key.clone(), "quickstart");
    let grant = issuer
        .issue(
            &GrantRequest {
                principal: Principal::User(tess.clone()),
                cid: version.cid(),
                purpose: "research".parse().map_err(fail("purpose"))?,
                region: "DE".parse().map_err(fail("region"))?,
            },
            now,
        )
        .map_err(fail("grant"))?;
    let verifier = GrantVerifier::new(30).trust(grant_key.verifying_key());
    let audit = AuditLog::open(root.join("audit.jsonl"))
        .with_checkpoints(SigningKey::generate().map_err(fail("key"))?, 100);
    let ask = |action: Action, purpose: &str| -> Result<AccessRequest, Failure> {
        Ok(AccessRequest::new(
            Principal::User(tess.clone()),
            action,
            Resource::Version(version.cid()),
            purpose.parse().map_err(fail("purpose"))?,
            "DE".parse().map_err(fail("region"))?,
            now,
        ))
    };
    out("7. asked the Cedar policy engine (default policies, fail-closed):")?;
    let cases = [
        (
            "train for research, with a grant",
            ask(Action::Train, "research")?,
            true,
        ),
        (
            "train for research, no grant",
            ask(Action::Train, "research")?,
            false,
        ),
        (
            "fine-tune commercially, with a grant",
            ask(Action::FineTuneCommercial, "commercial-fine-tuning")?,
            true,
        ),
    ];
    let mut allowed_read = false;
    for (label, request, with_grant) in cases {
        let decision = if with_grant {
            engine.decide_presented(&entities, request, Some(&grant), &verifier)
        } else {
            engine.decide(&entities, &request)
        };
        audit
            .append(decision.audit_record(), now)
            .map_err(fail("audit"))?;
        if label.starts_with("train for research, with") {
            allowed_read = decision.is_allowed();
        }
        out(&format!(
            "     tess: {label:<38} -> {} ({})",
            if decision.is_allowed() {
                "ALLOW"
            } else {
                "deny"
            },
            decision.determining_policies().join(", ")
        ))?;
    }
    let report = verify_log(
        &fs::read(audit.path()).map_err(|e| Failure::io("audit log", &e))?,
        None,
        None,
    )
    .map_err(fail("audit"))?;
    out(&format!(
        "   every decision is in audit.jsonl ({} hash-chained records, verified)",
        report.records
    ))?;
    if !allowed_read {
        return Err(Failure::verify(
            "the policy engine denied the permitted read",
        ));
    }

    // 8. Fetch through two providers: one lies about every block, the store is honest.
    // Every block is re-hashed; the reader fails over per block.
    let liar_backing = MemoryStore::new();
    for s in &stored {
        for block in &s.blocks {
            liar_backing.put(block).await.map_err(fail("store"))?;
        }
    }
    let providers: Vec<Box<dyn Transport>> = vec![
        Box::new(FaultyStore::new(
            liar_backing,
            Faults::new().corrupt_every(1),
        )),
        Box::new(DirStore::open(&store_dir).map_err(fail("store"))?),
    ];
    let honest = providers.get(1..).unwrap_or_default();
    let names: [ProviderId; 2] = [
        "lying-provider".parse().map_err(fail("provider"))?,
        "local-store".parse().map_err(fail("provider"))?,
    ];
    let section_plain = open_sealed(
        &base64ct::Base64::decode_vec(version.manifest().sealed.as_deref().unwrap_or_default())
            .map_err(fail("sealed"))?,
        std::slice::from_ref(&reader),
        1 << 20,
    )
    .map_err(crypt("open the sealed section"))?;
    let section: SealedSection =
        serde_json::from_slice(&section_plain).map_err(fail("sealed section"))?;
    let opened_kek =
        open_kek(&kek_file, std::slice::from_ref(&reader)).map_err(crypt("open the KEK"))?;
    let mut events = Vec::new();
    let mut caught = 0usize;
    for (entry, sealed_entry) in version.manifest().objects.iter().zip(&section.objects) {
        let root_cid = entry
            .root_cid
            .ok_or_else(|| Failure::verify("an object has no root CID"))?;
        let mut read = VerifiedRead::new(root_cid);
        let mut ciphertext: Vec<u8> = Vec::new();
        read.run(&providers, &mut ciphertext)
            .await
            .map_err(fail("fetch"))?;
        caught += read.failures().len();
        for f in read.failures() {
            if let Some(p) = names.get(f.store) {
                events.push(Event::new(
                    now,
                    "quickstart".parse().map_err(fail("observer"))?,
                    p.clone(),
                    EventKind::Retrieval,
                    Outcome::IntegrityFailure,
                ));
            }
        }
        for s in read.served() {
            if let Some(p) = names.get(s.store) {
                let e = Event::new(
                    now,
                    "quickstart".parse().map_err(fail("observer"))?,
                    p.clone(),
                    EventKind::Retrieval,
                    Outcome::Success,
                )
                .with_bytes(s.len)
                .verified()
                .map_err(fail("event"))?;
                events.push(e);
            }
        }
        let header_json = entry
            .encryption
            .as_ref()
            .map(EncryptionHeader::to_json)
            .unwrap_or_default();
        let header = ObjectHeader::from_json(header_json.as_bytes()).map_err(crypt("header"))?;
        let dek = sealed_entry
            .wrapped_key
            .unwrap(&opened_kek, header.object_id())
            .map_err(crypt("unwrap"))?;
        let mut plain = Vec::new();
        Decryptor::new(&dek, &header)
            .map_err(crypt("decrypt"))?
            .decrypt(ciphertext.as_slice(), &mut plain)
            .map_err(crypt("decrypt"))?;
        let original = items
            .iter()
            .find(|i| i.path == entry.path.as_str())
            .map(|i| i.bytes.as_slice());
        if Some(plain.as_slice()) != original || sha256_hex(&plain) != sealed_entry.plaintext_sha256
        {
            return Err(Failure::verify(format!(
                "{}: fetched bytes differ from the source",
                entry.path
            )));
        }
    }
    out(&format!(
        "8. fetched every object from [lying-provider, local-store]: {caught} corrupted block(s) caught by re-hashing,"
    ))?;
    out(
        "   each re-fetched from the next provider; opened the sealed section and the KEK with the age",
    )?;
    out(
        "   identity, unwrapped every data key, decrypted: every byte matches the source and its sealed digest",
    )?;

    // 9. Random access: a range across the chunk 0/1 boundary fetches only those chunks.
    let first = stored
        .iter()
        .find(|s| s.header.chunk_count() > 1)
        .ok_or_else(|| Failure::usage("no multi-chunk file"))?;
    let first_item = items
        .iter()
        .find(|i| i.path == first.path.as_str())
        .ok_or_else(|| Failure::usage("lost a file"))?;
    let first_dek = stored
        .iter()
        .zip(&deks)
        .find(|(s, _)| s.path == first.path)
        .map(|(_, d)| d)
        .ok_or_else(|| Failure::usage("lost a key"))?;
    let two_chunks = 2 * chunk_size.get() as u64;
    let mut prefix = Vec::new();
    let mut read = VerifiedRead::range(first.root, 0, two_chunks);
    read.run(honest, &mut prefix).await.map_err(fail("fetch"))?;
    let boundary = chunk_size.plaintext_len() as u64;
    let (offset, len) = (boundary - 1000, 3000u64);
    let mut range = Vec::new();
    Decryptor::new(first_dek, &first.header)
        .map_err(crypt("decrypt"))?
        .decrypt_range(&mut prefix.as_slice(), offset, len, &mut range)
        .map_err(crypt("range"))?;
    let expected = first_item
        .bytes
        .get(offset as usize..(offset + len) as usize)
        .unwrap_or_default();
    if range != expected {
        return Err(Failure::verify(
            "the decrypted range differs from the source",
        ));
    }
    out(&format!(
        "9. read plaintext bytes [{offset}, {}) of {} across the chunk boundary, fetching {} of {} blocks",
        offset + len,
        first.path,
        read.served().len(),
        first.blocks.len()
    ))?;

    // 10. Tampering: flip one bit of chunk 1.
    let mut full = Vec::new();
    VerifiedRead::new(first.root)
        .run(honest, &mut full)
        .await
        .map_err(fail("fetch"))?;
    let at = chunk_size.bytes() + 12_345;
    if let Some(byte) = full.get_mut(at) {
        *byte ^= 0x01;
    }
    let message = match Decryptor::new(first_dek, &first.header)
        .map_err(crypt("decrypt"))?
        .decrypt(full.as_slice(), io::sink())
    {
        Err(e @ CryptError::Chunk { index: 1 }) => e.to_string(),
        other => {
            return Err(Failure::verify(format!(
                "tampering was not caught at chunk 1: {other:?}"
            )));
        }
    };
    out(&format!(
        "10. flipped one bit at ciphertext byte {at}: decryption refused it with \"{message}\""
    ))?;

    // 11. Reputation from what this run observed.
    let mut model = DefaultModel::new(DefaultParams::default()).map_err(fail("model"))?;
    model.observe_all(&events);
    model.advance(now);
    out("11. scored the providers from this run's verified observations:")?;
    for p in &names {
        if let Some(score) = model.score(p) {
            out(&format!(
                "      {:<16} score {:.3}, {:?}",
                p.as_str(),
                score.score(),
                score.status()
            ))?;
        }
    }

    out("")?;
    out(&format!(
        "done in {:.1} s; everything is in {} (dataset/, store/, keys/, manifest.dsse.json, audit.jsonl)",
        started.elapsed().as_secs_f64(),
        show(&root)
    ))?;
    out(&format!(
        "next: `cargo run -p dataseal-examples --bin dataseal -- manifest cid {}`",
        show(&root.join("manifest.dsse.json"))
    ))?;
    Ok(())
}
