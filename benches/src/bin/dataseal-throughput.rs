//! Measures `dataseal-crypt` on files and on streamed inputs, without a CLI around it.
//!
//! ```text
//! dataseal-throughput encrypt  <plaintext> [--out <ciphertext>] [--header <json>] [options]
//! dataseal-throughput decrypt  <ciphertext> --header <json> [--out <plaintext>] [options]
//! dataseal-throughput generate <bytes> [options]
//!
//! options: --threads <n> (default: all cores)   --chunk <bytes> (default 1048576)
//! ```
//!
//! `encrypt` and `decrypt` read a file and discard the output unless `--out` names a file
//! (`--out /dev/null` costs one write call per chunk, as a CLI writing there would).
//! `generate` encrypts `<bytes>` of a pattern streamed from memory, never stored, to measure
//! peak memory on inputs far larger than RAM budgets (run it under `/usr/bin/time -v`).
//! Everything uses the fixed benchmark key and salt: never use this on real data.
//! One line of results goes to standard output.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::process::ExitCode;
use std::time::Instant;

use dataseal_benches::{PatternReader, bench_encryptor, bench_key, discard_chunk};
use dataseal_crypt::{ChunkSize, Decryptor, ObjectHeader, WriteSink};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    command: String,
    input: String,
    out: Option<String>,
    header: Option<String>,
    threads: usize,
    chunk: ChunkSize,
}

const USAGE: &str = "usage: dataseal-throughput (encrypt <file> | decrypt <file> --header <json> | generate <bytes>) [--out <path>] [--header <path>] [--threads <n>] [--chunk <bytes>]";

fn parse_args() -> Result<Args, BoxError> {
    let mut it = std::env::args().skip(1);
    let command = it.next().ok_or(USAGE)?;
    let input = it.next().ok_or(USAGE)?;
    let mut args = Args {
        command,
        input,
        out: None,
        header: None,
        threads: std::thread::available_parallelism().map_or(1, usize::from),
        chunk: ChunkSize::DEFAULT,
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(USAGE)?;
        match flag.as_str() {
            "--out" => args.out = Some(value),
            "--header" => args.header = Some(value),
            "--threads" => args.threads = value.parse()?,
            "--chunk" => args.chunk = ChunkSize::new(value.parse()?)?,
            _ => return Err(USAGE.into()),
        }
    }
    Ok(args)
}

fn output(path: Option<&str>) -> Result<Box<dyn Write + Send>, BoxError> {
    Ok(match path {
        Some(p) => Box::new(BufWriter::with_capacity(1 << 20, File::create(p)?)),
        None => Box::new(io::sink()),
    })
}

/// Encrypts `reader` and returns the plaintext length.
fn encrypt<R: Read + Send>(args: &Args, reader: R) -> Result<u64, BoxError> {
    let enc = bench_encryptor(args.chunk)?;
    let header = match args.out.as_deref() {
        Some(path) => {
            let mut sink = WriteSink::new(BufWriter::with_capacity(1 << 20, File::create(path)?));
            let header = enc.encrypt(reader, &mut sink)?;
            sink.finish()?;
            header
        }
        None => enc.encrypt(reader, &mut discard_chunk)?,
    };
    if let Some(path) = args.header.as_deref() {
        std::fs::write(path, header.to_json())?;
    }
    Ok(header.plaintext_len())
}

fn decrypt(args: &Args) -> Result<u64, BoxError> {
    let path = args.header.as_deref().ok_or("decrypt needs --header")?;
    let header = ObjectHeader::from_json(&std::fs::read(path)?)?;
    let dec = Decryptor::new(&bench_key(), &header)?;
    let reader = File::open(&args.input)?;
    Ok(dec.decrypt(reader, output(args.out.as_deref())?)?)
}

fn run() -> Result<(), BoxError> {
    let args = parse_args()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()?;
    let start = Instant::now();
    let bytes = pool.install(|| -> Result<u64, BoxError> {
        match args.command.as_str() {
            "encrypt" => encrypt(&args, File::open(&args.input)?),
            "decrypt" => decrypt(&args),
            "generate" => encrypt(&args, PatternReader::new(args.input.parse()?)),
            _ => Err(USAGE.into()),
        }
    })?;
    let secs = start.elapsed().as_secs_f64();
    let gib = bytes as f64 / f64::from(1u32 << 30);
    println!(
        "{} {:.3} GiB in {secs:.3} s = {:.3} GiB/s ({} threads, {} B chunks)",
        args.command,
        gib,
        gib / secs,
        args.threads,
        args.chunk
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dataseal-throughput: {e}");
            ExitCode::FAILURE
        }
    }
}
