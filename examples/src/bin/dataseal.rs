//! `dataseal`: the command line over the dataseal crates. See the crate's README for the
//! subcommands, their `--json` output and the exit codes.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dataseal_crypt::{ChunkSize, Decryptor, Encryptor, ObjectId, decrypt_to_file};
use dataseal_examples::transport_cli as t;
use dataseal_examples::{Failure, progress_bar, read_data_key, read_header, show};
use serde::Serialize;

const PROGRAM: &str = "dataseal";

/// Client-side chunked encryption of datasets for content-addressed storage.
#[derive(Debug, Parser)]
#[command(name = "dataseal", version, about, propagate_version = true)]
struct Cli {
    /// Print exactly one JSON document on stdout (the human summary still goes to stderr).
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate keys: a signing key pair and an age identity in DIR, or with --data-key a
    /// data key in FILE. Never overwrites an existing key file.
    Keygen {
        /// Generate one 256-bit data key (64 hex characters and a newline) into FILE
        /// instead of a key directory.
        #[arg(long)]
        data_key: bool,
        /// The directory to create the keys in (created if missing), or with --data-key
        /// the file to write.
        #[arg(long, value_name = "DIR|FILE")]
        out: PathBuf,
    },
    /// Encrypt INPUT into OUTDIR/ciphertext (the chunk stream) and OUTDIR/header.json.
    Encrypt {
        /// The data key file (64 hex characters).
        #[arg(long, value_name = "DEKFILE")]
        key: PathBuf,
        /// The object id bound into the keys, by convention DATASET@VERSION/PATH.
        #[arg(long, value_name = "ID")]
        object_id: String,
        /// The ciphertext chunk size: a power of two from 65536 to 1048576.
        #[arg(long, value_name = "BYTES", default_value_t = 1_048_576)]
        chunk_size: u64,
        /// The file to encrypt.
        input: PathBuf,
        /// The directory to write ciphertext and header.json in (created if missing).
        outdir: PathBuf,
    },
    /// Verify and decrypt CIPHERTEXT (or only a byte range of it) into OUTPUT.
    Decrypt {
        /// The data key file (64 hex characters).
        #[arg(long, value_name = "DEKFILE")]
        key: PathBuf,
        /// The object header written by `encrypt`.
        #[arg(long, value_name = "HEADER.json")]
        header: PathBuf,
        /// Decrypt only the plaintext bytes [OFFSET, OFFSET+LEN), reading only the chunks
        /// that cover them.
        #[arg(long, value_name = "OFFSET:LEN")]
        range: Option<String>,
        /// The chunk stream.
        ciphertext: PathBuf,
        /// The plaintext file to write (mode 0600).
        output: PathBuf,
    },
    /// Build, sign, verify and name signed dataset manifests.
    Manifest {
        #[command(subcommand)]
        command: ManifestCommand,
    },
    /// Print the UnixFS root CID that `ipfs add --cid-version=1 --raw-leaves
    /// --chunker=size-BYTES FILE` returns, computed locally.
    Cid {
        /// The chunk size: any size from 1 byte to 1048576.
        #[arg(long, value_name = "BYTES", default_value_t = 1_048_576)]
        chunk_size: u64,
        /// The file.
        file: PathBuf,
    },
    /// Store FILE as a UnixFS file (CIDv1, raw leaves), pin it and print its root CID.
    Put {
        /// The store: dir:PATH (created if missing), kubo:URL or btfs:URL.
        #[arg(long, value_name = "SPEC")]
        store: String,
        /// The chunk size: any size from 1 byte to 1048576.
        #[arg(long, value_name = "BYTES", default_value_t = 1_048_576)]
        chunk_size: u64,
        /// The file.
        file: PathBuf,
    },
    /// Read a file (or a byte range of it) with every block verified, trying the stores
    /// in order and failing over per block.
    Get {
        /// A store: dir:PATH, kubo:URL or btfs:URL; repeatable, tried in the order given.
        #[arg(long = "store", value_name = "SPEC", required = true)]
        stores: Vec<String>,
        /// Read only the bytes [OFFSET, OFFSET+LEN).
        #[arg(long, value_name = "OFFSET:LEN")]
        range: Option<String>,
        /// Blocks fetched ahead at a time; written in order, so at most this many are
        /// held in memory.
        #[arg(long, value_name = "BLOCKS", default_value_t = 8,
              value_parser = clap::value_parser!(u16).range(1..=1024))]
        window: u16,
        /// Spread the requests over the first N stores, which take turns being asked
        /// first (default 1: the first store is asked first for every block). Failover
        /// still tries every store.
        #[arg(long, value_name = "N", default_value_t = 1,
              value_parser = clap::value_parser!(u16).range(1..=64))]
        spread: u16,
        /// Read block by block even when the first store is a node; by default a whole
        /// file is read from it in one streamed `cat`, every leaf checked against the DAG,
        /// falling back to block-by-block reads over every store on any failure.
        #[arg(long)]
        blockwise: bool,
        /// The file's root CID.
        root_cid: String,
        /// The file to write.
        output: PathBuf,
    },
    /// Export a DAG to a CAR v1 file, or import one into a store.
    Car {
        #[command(subcommand)]
        command: CarCommand,
    },
    /// Decide a request against the Cedar policies: exit 0 allow, 3 deny, 4 when the version is revoked, erased or held.
    Authorize(dataseal_examples::policy_cli::AuthorizeArgs),
    /// Issue and verify short-lived, purpose-bound access grants.
    Grant {
        #[command(subcommand)]
        command: dataseal_examples::policy_cli::GrantCommand,
    },
    /// Verify a tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        command: dataseal_examples::policy_cli::AuditCommand,
    },
    /// Publish a directory as a governed dataset version: quarantine, encrypt, place,
    /// sign; prints the manifest CID.
    Publish(dataseal_examples::stories_cli::PublishArgs),
    /// Fetch a version: verify, ask the policy, release the key, read every block
    /// verified with failover, decrypt into OUTDIR.
    Fetch(Box<dataseal_examples::stories_cli::FetchArgs>),
    /// Verify a version's envelope and signatures; with --deep every block on every
    /// store, without a key.
    Verify(dataseal_examples::stories_cli::VerifyArgs),
    /// Re-replicate a version's objects that are below their class's replication
    /// factor.
    Repair(dataseal_examples::stories_cli::RepairArgs),
    /// Provider reputation: score an events file, attest scores, run simulations.
    Providers {
        #[command(subcommand)]
        command: dataseal_examples::providers_cli::ProvidersCommand,
    },
    /// The registry: lifecycle, legal holds, grant revocation, consent withdrawal,
    /// retention (sqlite:PATH by default, or postgres://…).
    Registry(dataseal_examples::registry_cli::RegistryArgs),
}

#[derive(Debug, Subcommand)]
enum CarCommand {
    /// Write the DAG under ROOT_CID to OUT.car (CAR v1), every block verified.
    Export {
        /// The store: dir:PATH, kubo:URL or btfs:URL.
        #[arg(long, value_name = "SPEC")]
        store: String,
        /// The root CID.
        root_cid: String,
        /// The CAR file to write.
        #[arg(value_name = "OUT.car")]
        out: PathBuf,
    },
    /// Verify and store every block of IN.car, then pin its roots (exit 1 if a block
    /// they reach is missing).
    Import {
        /// The store: dir:PATH (created if missing), kubo:URL or btfs:URL.
        #[arg(long, value_name = "SPEC")]
        store: String,
        /// The CAR file to read.
        #[arg(value_name = "IN.car")]
        input: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ManifestCommand {
    /// Build the manifest of a public (unencrypted) dataset: every file of SRC_DIR hashed
    /// (sha256) and listed in canonical order. Writes canonical JSON to stdout.
    #[command(disable_version_flag = true)]
    Build {
        /// The dataset id (a-z, 0-9, '.', '-', '_').
        #[arg(long)]
        name: String,
        /// The version (semantic versioning).
        #[arg(long, value_name = "SEMVER")]
        version: String,
        /// Metadata to include: licence, purposes, regions, consent, provenance, ….
        #[arg(long, value_name = "META.json")]
        meta: Option<PathBuf>,
        /// The dataset directory.
        src_dir: PathBuf,
    },
    /// Sign a manifest (making a new DSSE envelope) or add a signature to an envelope.
    /// Writes the envelope to stdout.
    Sign {
        /// The Ed25519 private key (PKCS#8 PEM).
        #[arg(long, value_name = "signing.key")]
        key: PathBuf,
        /// The role this signature is made in (publisher, compliance, …).
        #[arg(long)]
        role: String,
        /// A manifest or an envelope.
        input: PathBuf,
    },
    /// Verify an envelope: exit 0 only if the signatures meet every threshold and, with
    /// --against, every file matches and none is missing or extra.
    Verify {
        /// A trusted public key (PEM) and the role it is trusted in; repeatable.
        #[arg(long, value_name = "KEY.pub=ROLE")]
        trust: Vec<String>,
        /// The number of distinct keys a role needs (default 1 for each trusted role).
        #[arg(long, value_name = "ROLE=N")]
        threshold: Vec<String>,
        /// Also check this directory against the manifest.
        #[arg(long, value_name = "SRC_DIR")]
        against: Option<PathBuf>,
        /// Check key validity windows at this time instead of now (RFC 3339, UTC).
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
        /// The envelope.
        envelope: PathBuf,
    },
    /// Print the manifest CID (CIDv1, dag-json, sha2-256 of the payload bytes).
    Cid {
        /// An envelope (or a bare manifest).
        envelope: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(PROGRAM),
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Keygen {
            data_key: true,
            out,
        } => keygen_data_key(&out, cli.json),
        Command::Keygen {
            data_key: false,
            out,
        } => keygen_dir(&out, cli.json),
        Command::Encrypt {
            key,
            object_id,
            chunk_size,
            input,
            outdir,
        } => encrypt(&key, &object_id, chunk_size, &input, &outdir, cli.json),
        Command::Decrypt {
            key,
            header,
            range,
            ciphertext,
            output,
        } => decrypt(
            &key,
            &header,
            range.as_deref(),
            &ciphertext,
            &output,
            cli.json,
        ),
        Command::Manifest { command } => manifest(command, cli.json),
        Command::Providers { command } => dataseal_examples::providers_cli::run(command, cli.json),
        Command::Registry(args) => dataseal_examples::registry_cli::run(&args, cli.json),
        Command::Publish(args) => dataseal_examples::stories_cli::publish(&args, cli.json),
        Command::Fetch(args) => dataseal_examples::stories_cli::fetch(&args, cli.json),
        Command::Verify(args) => dataseal_examples::stories_cli::verify(&args, cli.json),
        Command::Repair(args) => dataseal_examples::stories_cli::repair(&args, cli.json),
        Command::Authorize(args) => dataseal_examples::policy_cli::authorize(&args, cli.json),
        Command::Grant { command } => dataseal_examples::policy_cli::grant(&command, cli.json),
        Command::Audit { command } => dataseal_examples::policy_cli::audit(&command, cli.json),
        Command::Cid { chunk_size, file } => {
            let report = t::cid_cmd(&file, chunk_size)?;
            say(&format!(
                "{} ({} bytes, {}-byte chunks): {}",
                show(&file),
                report.bytes,
                report.chunk_size,
                report.root_cid
            ));
            print_line_or_json(&report.root_cid, &report, cli.json)
        }
        Command::Put {
            store,
            chunk_size,
            file,
        } => {
            let report = t::put_cmd(&store, chunk_size, &file)?;
            say(&format!(
                "stored and pinned {} ({} bytes) in {store}: {}",
                show(&file),
                report.bytes,
                report.root_cid
            ));
            print_line_or_json(&report.root_cid, &report, cli.json)
        }
        Command::Get {
            stores,
            range,
            window,
            spread,
            blockwise,
            root_cid,
            output,
        } => {
            let range = range
                .as_deref()
                .map(dataseal_examples::parse_range)
                .transpose()?;
            let report = t::get_cmd(
                &stores,
                range,
                t::GetOptions {
                    window: usize::from(window),
                    spread: usize::from(spread),
                    stream: !blockwise,
                },
                &root_cid,
                &output,
            )?;
            let served: Vec<String> = report
                .stores
                .iter()
                .map(|s| {
                    format!(
                        "{}: {} block(s), {} failure(s)",
                        s.store, s.blocks, s.failures
                    )
                })
                .collect();
            say(&format!(
                "verified {} byte(s) at offset {} of {root_cid} into {} ({})",
                report.bytes_written,
                report.offset,
                show(&output),
                served.join("; ")
            ));
            if cli.json {
                print_json(&report)
            } else {
                Ok(())
            }
        }
        Command::Car { command } => {
            let report = match command {
                CarCommand::Export {
                    store,
                    root_cid,
                    out,
                } => t::car_export_cmd(&store, &root_cid, &out)?,
                CarCommand::Import { store, input } => t::car_import_cmd(&store, &input)?,
            };
            say(&format!(
                "{}: {} verified block(s), {} bytes, root(s) {}",
                report.car,
                report.blocks,
                report.bytes,
                report.roots.join(", ")
            ));
            if cli.json {
                print_json(&report)
            } else {
                Ok(())
            }
        }
    }
}

/// Prints `line` on stdout, or with `--json` the JSON document.
fn print_line_or_json<T: Serialize>(line: &str, doc: &T, json: bool) -> Result<(), Failure> {
    if json {
        print_json(doc)
    } else {
        write_stdout(format!("{line}\n").as_bytes())
    }
}

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::io("cannot write to stdout", &e))
}

fn manifest(command: ManifestCommand, json: bool) -> Result<(), Failure> {
    use dataseal_examples::manifest_cli as m;
    match command {
        ManifestCommand::Build {
            name,
            version,
            meta,
            src_dir,
        } => {
            let out = m::build(&name, &version, meta.as_deref(), &src_dir)?;
            write_stdout(&out)?;
            say(&format!(
                "built the manifest of {} ({name}@{version})",
                show(&src_dir)
            ));
            Ok(())
        }
        ManifestCommand::Sign { key, role, input } => {
            let out = m::sign_cmd(&key, &role, &input)?;
            write_stdout(&out)?;
            say(&format!("signed {} as {role}", show(&input)));
            Ok(())
        }
        ManifestCommand::Verify {
            trust,
            threshold,
            against,
            at,
            envelope,
        } => {
            let (report, code) = m::verify_cmd(
                &envelope,
                &trust,
                &threshold,
                against.as_deref(),
                at.as_deref(),
            )?;
            if json {
                print_json(&report)?;
            }
            for t in &report.thresholds {
                say(&format!(
                    "role {}: {} of {} signatures",
                    t.role, t.found, t.needed
                ));
            }
            for f in &report.failures {
                say(&format!(
                    "FAILED {}: {}",
                    serde_json::to_string(&f.code)
                        .unwrap_or_default()
                        .trim_matches('"'),
                    f.message
                ));
            }
            match (code, &report.manifest_cid) {
                (0, Some(cid)) => {
                    say(&format!("verified {cid}"));
                    Ok(())
                }
                _ => {
                    let first = report
                        .failures
                        .first()
                        .map_or("verification failed".to_owned(), |f| f.message.clone());
                    Err(Failure::new(if code == 0 { 1 } else { code }, first))
                }
            }
        }
        ManifestCommand::Cid { envelope } => {
            let cid = m::cid_cmd(&envelope)?;
            if json {
                print_json(&serde_json::json!({ "manifest_cid": cid.to_string() }))
            } else {
                write_stdout(format!("{cid}\n").as_bytes())
            }
        }
    }
}

/// Prints a human line on stderr.
fn say(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Prints one JSON document and a newline on stdout.
fn print_json<T: Serialize>(doc: &T) -> Result<(), Failure> {
    let text = serde_json::to_string(doc)
        .map_err(|e| Failure::usage(format!("cannot encode the JSON output: {e}")))?;
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| Failure::io("cannot write to stdout", &e))
}

#[derive(Serialize)]
struct KeygenJson {
    files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient: Option<String>,
}

fn keygen_data_key(out: &Path, json: bool) -> Result<(), Failure> {
    dataseal::keys::write_data_key(out)?;
    say(&format!(
        "wrote a 256-bit data key to {} (mode 0600)",
        show(out)
    ));
    if json {
        print_json(&KeygenJson {
            files: vec![show(out)],
            recipient: None,
        })?;
    }
    Ok(())
}

fn keygen_dir(dir: &Path, json: bool) -> Result<(), Failure> {
    let made = dataseal::keys::generate_key_dir(dir, dataseal_base::Timestamp::now())?;
    let recipient = made.recipient.to_string();
    say(&format!(
        "wrote signing.key (0600), signing.pub, recipient.key (0600) and recipient.pub in {}",
        show(dir)
    ));
    say(&format!("age recipient: {recipient}"));
    if json {
        print_json(&KeygenJson {
            files: made.files.iter().map(|p| show(p)).collect(),
            recipient: Some(recipient),
        })?;
    }
    Ok(())
}

#[derive(Serialize)]
struct EncryptJson {
    object_id: String,
    plaintext_len: u64,
    chunk_size: u32,
    chunk_count: u64,
    chunk_cids: Vec<String>,
    root_cid: String,
}

fn encrypt(
    key_path: &Path,
    object_id: &str,
    chunk_size: u64,
    input: &Path,
    outdir: &Path,
    json: bool,
) -> Result<(), Failure> {
    // Check everything that can be checked before creating anything.
    let chunk_size = ChunkSize::new(chunk_size).map_err(Failure::from)?;
    let object_id: ObjectId = object_id
        .parse()
        .map_err(|e| Failure::usage(format!("--object-id: {e}")))?;
    let key = read_data_key(key_path)?;
    let reader = File::open(input)
        .map_err(|e| Failure::io(format!("cannot read input {}", show(input)), &e))?;
    let input_len = reader
        .metadata()
        .map_err(|e| Failure::io(format!("cannot read input {}", show(input)), &e))?
        .len();

    fs::create_dir_all(outdir)
        .map_err(|e| Failure::io(format!("cannot create directory {}", show(outdir)), &e))?;
    let ciphertext_dest = outdir.join("ciphertext");
    let encryptor = Encryptor::new(&key, object_id, chunk_size).map_err(Failure::from)?;
    let bar = progress_bar(input_len, "encrypting");
    // Killed anywhere, this leaves no header beside ciphertext it does not describe.
    let encrypted = dataseal_crypt::encrypt_to_files(
        &encryptor,
        bar.wrap_read(reader),
        &ciphertext_dest,
        &outdir.join("header.json"),
    );
    bar.finish_and_clear();
    let (header, cids) =
        encrypted.map_err(|e| Failure::crypt(format!("encrypting {}", show(input)), &e))?;
    // The object's address: the UnixFS file over the chunks, as a node computes it.
    let root = t::object_root(
        &cids,
        u64::from(header.chunk_size().get()),
        header.ciphertext_len(),
    )?;

    say(&format!(
        "encrypted {} ({} bytes) as {:?} into {} chunk(s) of {} bytes: {} and {}; root CID {root}",
        show(input),
        header.plaintext_len(),
        header.object_id().as_str(),
        header.chunk_count(),
        header.chunk_size(),
        show(&ciphertext_dest),
        show(&outdir.join("header.json")),
    ));
    if json {
        print_json(&EncryptJson {
            object_id: header.object_id().as_str().to_owned(),
            plaintext_len: header.plaintext_len(),
            chunk_size: header.chunk_size().get(),
            chunk_count: header.chunk_count(),
            chunk_cids: cids.iter().map(ToString::to_string).collect(),
            root_cid: root.to_string(),
        })?;
    }
    Ok(())
}

#[derive(Serialize)]
struct DecryptJson {
    object_id: String,
    plaintext_len: u64,
    offset: u64,
    bytes_written: u64,
}

fn decrypt(
    key_path: &Path,
    header_path: &Path,
    range: Option<&str>,
    ciphertext: &Path,
    output: &Path,
    json: bool,
) -> Result<(), Failure> {
    let range = range.map(dataseal_examples::parse_range).transpose()?;
    let header = read_header(header_path)?;
    let key = read_data_key(key_path)?;
    let decryptor = Decryptor::new(&key, &header).map_err(|e| {
        let context = format!(
            "checking key {} against header {}",
            show(key_path),
            show(header_path)
        );
        Failure::crypt(context, &e)
    })?;
    // Authenticated chunk by chunk into a temporary file, renamed into place at the end.
    let bar = progress_bar(
        range.map_or(header.plaintext_len(), |(_, len)| len),
        "decrypting",
    );
    let result = decrypt_to_file(&decryptor, ciphertext, range, output, &mut |n| bar.inc(n));
    bar.finish_and_clear();
    let written =
        result.map_err(|e| Failure::crypt(format!("decrypting {}", show(ciphertext)), &e))?;
    let offset = range.map_or(0, |(offset, _)| offset);

    say(&format!(
        "verified and decrypted {written} byte(s) at offset {offset} of {:?} ({} bytes) into {}",
        header.object_id().as_str(),
        header.plaintext_len(),
        show(output)
    ));
    if json {
        print_json(&DecryptJson {
            object_id: header.object_id().as_str().to_owned(),
            plaintext_len: header.plaintext_len(),
            offset,
            bytes_written: written,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
