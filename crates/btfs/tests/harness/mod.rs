//! Test harness: a real js-ipfs 0.66.1 node on 127.0.0.1 (the in-process HTTP server and
//! the corrupting proxy are in `tests/server`).
//!
//! The node is installed from `tests/jsipfs/package-lock.json` with `npm ci` into
//! `target/tmp/jsipfs-<lock digest>`, once. Each daemon gets a fresh repository (a
//! temporary directory), free loopback ports, no bootstrap peers and no mDNS, and runs
//! `--offline`. It runs under a small `sh` supervisor in its own process group whose
//! standard input is held by the test: when the `Node` is dropped, or the test process
//! ends in any way (a failed assertion, a panic, a kill), that input closes and the
//! supervisor stops the whole group (TERM, then KILL).
//!
//! Without Node.js and npm, or when the node cannot be installed or started, tests that
//! need it print `SKIPPED` and pass, except under `CI=true`, where that is a failure.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test harness shared by several test binaries (this crate's and the CLI's), each using a part of it"
)]

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

const PACKAGE_JSON: &str = include_str!("../jsipfs/package.json");
const PACKAGE_LOCK: &str = include_str!("../jsipfs/package-lock.json");

/// How long a daemon may take to answer after it was started.
const START_LIMIT: Duration = Duration::from_secs(120);

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Reports a node that cannot be had: a failure under `CI=true`, a loud skip otherwise.
pub(crate) fn unavailable(why: &str) {
    if in_ci() {
        panic!("CI=true and the js-ipfs test node is unavailable: {why}");
    }
    // Straight to the process's stderr, past the test harness's capture: a skip is
    // seen even when the test passes.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: this test needs a js-ipfs node, which is unavailable: {why}"
    );
}

fn tool_works(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs js-ipfs (once per lock file) and returns the `jsipfs` executable.
fn install() -> Result<PathBuf, String> {
    static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            if !tool_works("node") || !tool_works("npm") {
                return Err("node and npm (Node.js 20 or later) are not on PATH".into());
            }
            let digest = hex(&Sha256::digest(PACKAGE_LOCK.as_bytes())[..8]);
            let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
            let dir = tmp.join(format!("jsipfs-{digest}"));
            let bin = dir.join("node_modules/.bin/jsipfs");
            if bin.exists() {
                return Ok(bin);
            }
            // Install beside the final place, then move it there in one step, so that
            // a concurrent test binary never sees a half-installed tree.
            let staging = tmp.join(format!("jsipfs-{digest}.tmp-{}", std::process::id()));
            let _ = fs::remove_dir_all(&staging);
            fs::create_dir_all(&staging).map_err(|e| e.to_string())?;
            fs::write(staging.join("package.json"), PACKAGE_JSON).map_err(|e| e.to_string())?;
            fs::write(staging.join("package-lock.json"), PACKAGE_LOCK)
                .map_err(|e| e.to_string())?;
            eprintln!("installing js-ipfs 0.66.1 into {} (once)", dir.display());
            let out = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&staging)
                .output()
                .map_err(|e| e.to_string())?;
            if !out.status.success() {
                let _ = fs::remove_dir_all(&staging);
                return Err(format!(
                    "`npm ci` failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            if fs::rename(&staging, &dir).is_err() {
                // Another test binary got there first.
                let _ = fs::remove_dir_all(&staging);
            }
            if bin.exists() {
                Ok(bin)
            } else {
                Err(format!("{} is missing after `npm ci`", bin.display()))
            }
        })
        .clone()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Distinct free loopback ports (held together while picked, so they differ).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// The repository configuration: loopback addresses on the given ports, no bootstrap
/// peers, no mDNS, no WebRTC star, no delegates.
fn config_addresses(config: &mut serde_json::Value, ports: &[u16]) {
    let obj = config.as_object_mut().unwrap();
    obj.insert(
        "Addresses".into(),
        serde_json::json!({
            "Swarm": [format!("/ip4/127.0.0.1/tcp/{}", ports[0])],
            "API": format!("/ip4/127.0.0.1/tcp/{}", ports[1]),
            "Gateway": format!("/ip4/127.0.0.1/tcp/{}", ports[2]),
            "RPC": format!("/ip4/127.0.0.1/tcp/{}", ports[3]),
            "Announce": [],
            "NoAnnounce": [],
            "Delegates": []
        }),
    );
    obj.insert("Bootstrap".into(), serde_json::json!([]));
    obj.insert(
        "Discovery".into(),
        serde_json::json!({"MDNS": {"Enabled": false, "Interval": 10}, "webRTCStar": {"Enabled": false}}),
    );
}

/// Stops the whole process group when standard input closes (or a line arrives), then
/// removes the node's repository.
const SUPERVISOR: &str = r#"
"$@" </dev/null &
child=$!
trap '' TERM
read -r _ || true
kill -TERM 0 2>/dev/null
i=0
while kill -0 "$child" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
[ -n "$DATASEAL_TEST_REPO" ] && rm -rf -- "$DATASEAL_TEST_REPO"
kill -KILL 0 2>/dev/null
"#;

/// A running js-ipfs daemon.
#[derive(Debug)]
pub(crate) struct Node {
    api: String,
    repo: tempfile::TempDir,
    process: Mutex<Option<(Child, ChildStdin)>>,
}

impl Node {
    /// Starts a daemon with a fresh repository; `None` (after reporting) if it cannot.
    pub(crate) fn start() -> Option<Node> {
        match Self::try_start() {
            Ok(node) => Some(node),
            Err(why) => {
                unavailable(&why);
                None
            }
        }
    }

    fn try_start() -> Result<Node, String> {
        let jsipfs = install()?;
        let repo = tempfile::Builder::new()
            .prefix("jsipfs-repo-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .map_err(|e| e.to_string())?;
        let mut ports = free_ports(4);
        let mut init = serde_json::json!({});
        config_addresses(&mut init, &ports);
        let init_file = repo.path().join("init-config.json");
        fs::write(&init_file, init.to_string()).map_err(|e| e.to_string())?;
        let out = Command::new(&jsipfs)
            .args(["init", "--emptyRepo", "--defaultConfig"])
            .arg(&init_file)
            .env("IPFS_PATH", repo.path())
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "`jsipfs init` failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let log_path = repo.path().join("daemon.log");
        'attempts: for attempt in 1..=3 {
            if attempt > 1 {
                ports = free_ports(4);
            }
            let config_path = repo.path().join("config");
            let mut config: serde_json::Value =
                serde_json::from_slice(&fs::read(&config_path).map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?;
            config_addresses(&mut config, &ports);
            fs::write(&config_path, config.to_string()).map_err(|e| e.to_string())?;
            let log = fs::File::create(&log_path).map_err(|e| e.to_string())?;
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(SUPERVISOR)
                .arg("sh")
                .arg(&jsipfs)
                .args(["daemon", "--offline", "--enable-preload=false"])
                .env("IPFS_PATH", repo.path())
                .env("DATASEAL_TEST_REPO", repo.path())
                .stdin(Stdio::piped())
                .stdout(log.try_clone().map_err(|e| e.to_string())?)
                .stderr(log)
                .process_group(0)
                .spawn()
                .map_err(|e| e.to_string())?;
            let stdin = child.stdin.take().unwrap();
            let process = Some((child, stdin));
            let api = format!("http://127.0.0.1:{}", ports[1]);
            let started = Instant::now();
            loop {
                if answers_id(ports[1]) {
                    eprintln!(
                        "js-ipfs node up at {api} after {:.1} s",
                        started.elapsed().as_secs_f64()
                    );
                    return Ok(Node {
                        api,
                        repo,
                        process: Mutex::new(process),
                    });
                }
                let log = fs::read_to_string(&log_path).unwrap_or_default();
                let port_taken = log.contains("EADDRINUSE");
                if port_taken || started.elapsed() > START_LIMIT {
                    stop_process(process);
                    if port_taken && attempt < 3 {
                        // Lost a port race: try new ports.
                        continue 'attempts;
                    }
                    let tail: Vec<&str> = log.lines().rev().take(20).collect();
                    return Err(format!(
                        "the daemon did not answer within {START_LIMIT:?}; log tail:\n{}",
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    ));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Err("the daemon could not bind its ports".into())
    }

    /// The node's address (`http://127.0.0.1:PORT`).
    pub(crate) fn api(&self) -> &str {
        &self.api
    }

    /// The repository directory.
    pub(crate) fn repo(&self) -> &Path {
        self.repo.path()
    }

    /// Stops the daemon (its whole process group) and waits for it to go.
    pub(crate) fn stop(&self) {
        stop_process(self.process.lock().unwrap().take());
    }
}

/// Asks the supervisor to stop the group, waits, and kills the group if it lingers.
fn stop_process(process: Option<(Child, ChildStdin)>) {
    let Some((mut child, mut stdin)) = process else {
        return;
    };
    let _ = stdin.write_all(b"stop\n");
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.wait();
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether `POST /api/v0/id` answers 200 on `port`.
fn answers_id(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = "POST /api/v0/id HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// The node shared by every test of one test binary (started once, on first use; its
/// supervisor stops it when the binary exits).
pub(crate) fn shared() -> Option<&'static Node> {
    static SHARED: OnceLock<Result<Node, String>> = OnceLock::new();
    match SHARED.get_or_init(Node::try_start) {
        Ok(node) => Some(node),
        Err(why) => {
            unavailable(why);
            None
        }
    }
}
