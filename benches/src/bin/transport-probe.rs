//! Times verified reads from real IPFS nodes, optionally with a simulated network round
//! trip, for the "one node against three" figures in BENCHMARKS.md.
//!
//! ```text
//! transport-probe get [--delay-ms MS] [--window W] [--spread K] [--runs N] ROOT URL...
//! ```
//!
//! Each URL is a Kubo-RPC node (js-ipfs or Kubo; `benches/jsipfs-nodes.sh` starts local
//! ones). Every request first waits `MS` milliseconds ([`Faults::delay`]), standing in for
//! the round trip to a remote node, which loopback nodes lack. The file is read `N` times
//! with every block verified, the output discarded; one JSON line per run gives the
//! seconds, MiB/s and the blocks each node served.
#![allow(clippy::print_stdout, reason = "a measuring tool prints its results")]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use dataseal_btfs::{Capabilities, Client};
use dataseal_transport::{Cid, Faults, FaultyStore, Transport, VerifiedRead};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

struct Args {
    delay: Duration,
    window: usize,
    spread: usize,
    runs: usize,
    root: Cid,
    urls: Vec<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args> {
    if args.next().as_deref() != Some("get") {
        return Err("usage: transport-probe get [--delay-ms MS] [--window W] [--spread K] [--runs N] ROOT URL...".into());
    }
    let (mut delay, mut window, mut spread, mut runs) = (0u64, 8usize, 1usize, 3usize);
    let mut rest = Vec::new();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--delay-ms" => delay = value()?.parse()?,
            "--window" => window = value()?.parse()?,
            "--spread" => spread = value()?.parse()?,
            "--runs" => runs = value()?.parse()?,
            _ => rest.push(arg),
        }
    }
    let mut rest = rest.into_iter();
    let root = rest.next().ok_or("missing ROOT")?.parse()?;
    let urls: Vec<String> = rest.collect();
    if urls.is_empty() {
        return Err("missing URL".into());
    }
    Ok(Args {
        delay: Duration::from_millis(delay),
        window,
        spread,
        runs,
        root,
        urls,
    })
}

async fn run(args: Args) -> Result<()> {
    let stores = args
        .urls
        .iter()
        .map(|url| {
            let url = url.strip_prefix("kubo:").unwrap_or(url);
            let client = Client::new(url, Capabilities::js_ipfs())?;
            Ok(FaultyStore::new(client, Faults::new().delay(args.delay)))
        })
        .collect::<Result<Vec<_>>>()?;
    let stores: Vec<&dyn Transport> = stores.iter().map(|s| s as &dyn Transport).collect();
    for _ in 0..args.runs {
        let mut read = VerifiedRead::new(args.root)
            .window(args.window)
            .spread(args.spread);
        let start = Instant::now();
        let bytes = read.run(&stores, &mut tokio::io::sink()).await?;
        let secs = start.elapsed().as_secs_f64();
        let served: Vec<usize> = (0..stores.len())
            .map(|i| read.served().iter().filter(|s| s.store == i).count())
            .collect();
        println!(
            "{{\"nodes\":{},\"delay_ms\":{},\"window\":{},\"spread\":{},\"bytes\":{bytes},\"seconds\":{secs:.3},\"mib_per_s\":{:.1},\"served\":{served:?},\"failures\":{}}}",
            stores.len(),
            args.delay.as_millis(),
            args.window,
            args.spread,
            bytes as f64 / secs / f64::from(1 << 20),
            read.failures().len()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let result = parse(std::env::args().skip(1)).and_then(|args| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(run(args))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("transport-probe: {e}");
            ExitCode::FAILURE
        }
    }
}
