//! `quickstart`: a guided tour of dataseal's client-side encryption on a small generated
//! dataset — encrypt, address, wrap and seal keys, decrypt a range, catch tampering —
//! printing what it does.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use dataseal_crypt::{
    ChunkSize, DataKey, Decryptor, Encryptor, Error, Identity, KeyEncryptionKey, ObjectHeader,
    ObjectId, Recipient, SeekSource, WrappedKey, WriteSink, open_kek, seal_kek,
};
use dataseal_examples::{AtomicFile, Failure, show};

const PROGRAM: &str = "quickstart";
const DATASET: &str = "quickstart-demo@1.0.0";

/// Runs dataseal's encryption story end to end on a small generated dataset and prints
/// what it did.
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

/// One encrypted file.
struct Sealed {
    object_id: ObjectId,
    header: ObjectHeader,
    ciphertext: PathBuf,
    wrapped: WrappedKey,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args.dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(PROGRAM),
    }
}

/// Prints one line on stdout.
fn out(line: &str) -> Result<(), Failure> {
    writeln!(io::stdout().lock(), "{line}").map_err(|e| Failure::io("cannot write to stdout", &e))
}

fn crypt(context: &str) -> impl Fn(Error) -> Failure + '_ {
    move |e| Failure::crypt(context, &e)
}

fn mkdir(dir: &Path) -> Result<(), Failure> {
    fs::create_dir_all(dir)
        .map_err(|e| Failure::io(format!("cannot create directory {}", show(dir)), &e))
}

fn write_file(path: &Path, bytes: &[u8], secret: bool) -> Result<(), Failure> {
    if let Some(parent) = path.parent() {
        mkdir(parent)?;
    }
    let mut file = AtomicFile::create(path, secret)?;
    file.write_all(bytes)?;
    file.commit()
}

fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    fs::read(path).map_err(|e| Failure::io(format!("cannot read {}", show(path)), &e))
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
            path: "train/shard-0000.bin",
            bytes: pseudo_random(1, 2_200_000),
        },
        Item {
            path: "train/shard-0001.bin",
            bytes: pseudo_random(2, 900_000),
        },
        Item {
            path: "labels.csv",
            bytes: csv.into_bytes(),
        },
    ]
}

fn run(dir: Option<PathBuf>) -> Result<(), Failure> {
    let started = Instant::now();
    let root = match dir {
        Some(dir) => {
            mkdir(&dir)?;
            dir
        }
        None => tempfile::Builder::new()
            .prefix("dataseal-quickstart-")
            .tempdir()
            .map_err(|e| Failure::io("cannot create a temporary directory", &e))?
            .keep(),
    };
    out("dataseal quickstart: client-side chunked encryption, step by step")?;
    out(&format!("working directory: {}", show(&root)))?;
    out("")?;

    // 1. A small deterministic dataset.
    let items = dataset();
    let total: usize = items.iter().map(|i| i.bytes.len()).sum();
    out(&format!(
        "1. generated a {total}-byte dataset of {} files under dataset/",
        items.len()
    ))?;
    for item in &items {
        write_file(&root.join("dataset").join(item.path), &item.bytes, false)?;
        out(&format!(
            "     {:<22} {:>9} bytes",
            item.path,
            item.bytes.len()
        ))?;
    }

    // 2. Keys: one data key per file, one key-encryption key for the version, and the
    // reader's age identity.
    let kek = KeyEncryptionKey::generate().map_err(|e| Failure::usage(e.to_string()))?;
    let identity = Identity::generate();
    let recipient = identity.to_public();
    let keys_dir = root.join("keys");
    write_file(
        &keys_dir.join("recipient.key"),
        identity
            .to_identity_file(dataseal_base::Timestamp::now())
            .as_bytes(),
        true,
    )?;
    write_file(
        &keys_dir.join("recipient.pub"),
        format!("{recipient}\n").as_bytes(),
        false,
    )?;
    out("2. generated keys: a fresh 256-bit data key per file, one key-encryption key (KEK),")?;
    out(&format!(
        "   and an age identity in keys/recipient.key (recipient {recipient})"
    ))?;

    // 3. Encrypt every file in 1 MiB chunks; every chunk is a raw block with its own CID.
    let chunk_size = ChunkSize::DEFAULT;
    out(&format!(
        "3. encrypted every file in {chunk_size}-byte chunks into encrypted/<file>/"
    ))?;
    let mut sealed = Vec::with_capacity(items.len());
    for item in &items {
        let object_id: ObjectId = format!("{DATASET}/{}", item.path)
            .parse()
            .map_err(|e| Failure::usage(format!("object id: {e}")))?;
        let dek = DataKey::generate().map_err(|e| Failure::usage(e.to_string()))?;
        let encryptor =
            Encryptor::new(&dek, object_id.clone(), chunk_size).map_err(crypt("encrypt"))?;
        let mut sink = WriteSink::new(Vec::new());
        let header = encryptor
            .encrypt(item.bytes.as_slice(), &mut sink)
            .map_err(crypt(item.path))?;
        let (ciphertext, cids) = sink.finish().map_err(|e| Failure::io(item.path, &e))?;
        let dir = root.join("encrypted").join(item.path);
        let ct_path = dir.join("ciphertext");
        write_file(&ct_path, &ciphertext, false)?;
        let mut header_json = header.to_json();
        header_json.push('\n');
        write_file(&dir.join("header.json"), header_json.as_bytes(), false)?;

        // 4. The data key never touches the disk in the clear: it is wrapped under the
        // KEK, bound to this object id.
        let wrapped = WrappedKey::wrap(&kek, &object_id, &dek).map_err(crypt("wrap"))?;
        write_file(
            &dir.join("wrapped-key.hex"),
            format!("{wrapped}\n").as_bytes(),
            false,
        )?;

        out(&format!(
            "     {:<22} {:>9} bytes -> {} chunk(s), {} ciphertext bytes",
            item.path,
            header.plaintext_len(),
            header.chunk_count(),
            ciphertext.len()
        ))?;
        for (i, cid) in cids.iter().enumerate().take(2) {
            out(&format!("       chunk {i}: {cid}"))?;
        }
        if cids.len() > 2 {
            out(&format!("       … and {} more", cids.len() - 2))?;
        }
        sealed.push(Sealed {
            object_id,
            header,
            ciphertext: ct_path,
            wrapped,
        });
    }

    // 4/5. Seal the KEK to the age recipient, then play the reader: open it with the
    // identity read back from its file, and unwrap every data key.
    out(&format!(
        "4. wrapped each data key under the KEK (encrypted/<file>/wrapped-key.hex, {} hex chars)",
        sealed.first().map_or(0, |s| s.wrapped.to_string().len())
    ))?;
    let recipient_back: Recipient =
        String::from_utf8_lossy(&read_file(&keys_dir.join("recipient.pub"))?)
            .parse()
            .map_err(crypt("recipient.pub"))?;
    let age_file = seal_kek(&kek, &[recipient_back]).map_err(crypt("seal the KEK"))?;
    write_file(&keys_dir.join("kek.age"), &age_file, false)?;
    out(&format!(
        "   and sealed the KEK to the age recipient: keys/kek.age ({} bytes, opens with `rage -d -i keys/recipient.key`)",
        age_file.len()
    ))?;

    let identity_text = read_file(&keys_dir.join("recipient.key"))?;
    let identities = Identity::parse_file(&String::from_utf8_lossy(&identity_text))
        .map_err(crypt("recipient.key"))?;
    let opened = open_kek(&read_file(&keys_dir.join("kek.age"))?, &identities)
        .map_err(crypt("open kek.age"))?;
    if opened != kek {
        return Err(Failure::verify(
            "the opened KEK differs from the sealed one",
        ));
    }
    let mut deks = Vec::with_capacity(sealed.len());
    for s in &sealed {
        let text = read_file(&s.ciphertext.with_file_name("wrapped-key.hex"))?;
        let wrapped: WrappedKey = String::from_utf8_lossy(&text)
            .trim()
            .parse()
            .map_err(crypt("wrapped-key.hex"))?;
        if wrapped != s.wrapped {
            return Err(Failure::verify("wrapped-key.hex did not read back"));
        }
        deks.push(
            wrapped
                .unwrap(&opened, &s.object_id)
                .map_err(crypt(s.object_id.as_str()))?,
        );
    }
    out(&format!(
        "5. opened keys/kek.age with the age identity and unwrapped all {} data keys",
        deks.len()
    ))?;

    // 6. Decrypt everything and compare with the source.
    for ((s, dek), item) in sealed.iter().zip(&deks).zip(&items) {
        let header =
            ObjectHeader::from_json(&read_file(&s.ciphertext.with_file_name("header.json"))?)
                .map_err(crypt("header.json"))?;
        if header != s.header {
            return Err(Failure::verify("header.json did not read back"));
        }
        let decryptor = Decryptor::new(dek, &header).map_err(crypt(item.path))?;
        let ciphertext = read_file(&s.ciphertext)?;
        let mut plain = Vec::with_capacity(item.bytes.len());
        decryptor
            .decrypt(ciphertext.as_slice(), &mut plain)
            .map_err(crypt(item.path))?;
        if plain != item.bytes {
            return Err(Failure::verify(format!(
                "{}: decrypted bytes differ from the source",
                item.path
            )));
        }
    }
    out(&format!(
        "6. decrypted all {} files with the unwrapped keys: every chunk authenticated, every byte matches",
        items.len()
    ))?;

    // 7. Random access: a range across the boundary between chunks 0 and 1, reading
    // only those two chunks from the file.
    let (first, first_key, first_item) = match (sealed.first(), deks.first(), items.first()) {
        (Some(s), Some(k), Some(i)) => (s, k, i),
        _ => return Err(Failure::usage("the dataset is empty")),
    };
    let boundary = chunk_size.plaintext_len();
    let (offset, len) = (boundary - 1000, 3000usize);
    let decryptor = Decryptor::new(first_key, &first.header).map_err(crypt(first_item.path))?;
    let file = fs::File::open(&first.ciphertext)
        .map_err(|e| Failure::io(format!("cannot read {}", show(&first.ciphertext)), &e))?;
    let mut range = Vec::with_capacity(len);
    decryptor
        .decrypt_range(&mut SeekSource(file), offset as u64, len as u64, &mut range)
        .map_err(crypt(first_item.path))?;
    let expected = first_item
        .bytes
        .get(offset..offset + len)
        .ok_or_else(|| Failure::usage("range outside the source"))?;
    if range != expected {
        return Err(Failure::verify(
            "the decrypted range differs from the source",
        ));
    }
    out(&format!(
        "7. decrypted bytes [{offset}, {}) of {} — across the chunk 0/1 boundary at {boundary} — reading only chunks 0 and 1: they match the source",
        offset + len,
        first_item.path
    ))?;

    // 8. Tampering: flip one byte in chunk 1 of a copy of the ciphertext.
    let mut tampered = read_file(&first.ciphertext)?;
    let at = chunk_size.bytes() + 12_345;
    match tampered.get_mut(at) {
        Some(byte) => *byte ^= 0x01,
        None => return Err(Failure::usage("the first file is too short to tamper with")),
    }
    let tampered_path = root.join("tampered").join("ciphertext");
    write_file(&tampered_path, &tampered, false)?;
    let caught = decryptor.decrypt(tampered.as_slice(), io::sink());
    let message = match caught {
        Err(e @ Error::Chunk { index: 1 }) => e.to_string(),
        Err(other) => {
            return Err(Failure::verify(format!(
                "tampering reported as {other:?}, expected chunk 1"
            )));
        }
        Ok(_) => return Err(Failure::verify("tampering went undetected")),
    };
    out(&format!(
        "8. flipped one bit at ciphertext byte {at} (tampered/ciphertext): decryption refused it with \"{message}\""
    ))?;

    out("")?;
    out(&format!(
        "summary: {} files, {total} bytes, encrypted in {} chunk(s) of {chunk_size} bytes, keys wrapped and sealed,",
        items.len(),
        sealed.iter().map(|s| s.header.chunk_count()).sum::<u64>()
    ))?;
    out(&format!(
        "summary: range read verified, tampering caught at chunk 1; everything is in {} ({:.1} s)",
        show(&root),
        started.elapsed().as_secs_f64()
    ))?;
    out(
        "next: try the same with the CLI: `cargo run -p dataseal-examples --bin dataseal -- --help`",
    )?;
    Ok(())
}
