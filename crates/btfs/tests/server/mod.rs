//! Test servers: a small HTTP server for in-process fakes, and a proxy that corrupts a
//! node's block answers.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers shared by several test binaries, each using a part of them"
)]

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// A plain HTTP client for talking to a node directly (installs rustls's `ring`
/// provider as the process default, which the workspace's reqwest build needs).
pub(crate) fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A request as a test server sees it.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// The method.
    pub(crate) method: String,
    /// The path.
    pub(crate) path: String,
    /// The decoded query pairs, in order.
    pub(crate) query: Vec<(String, String)>,
    /// The headers (names in lowercase).
    pub(crate) headers: Vec<(String, String)>,
    /// The whole body.
    pub(crate) body: Bytes,
}

impl Request {
    /// The first value of a query parameter.
    pub(crate) fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a header.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The content of the first part of a `multipart/form-data` body.
    pub(crate) fn file(&self) -> Option<Bytes> {
        let content_type = self.header("content-type")?;
        let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
        let open = format!("--{boundary}");
        let body = &self.body[..];
        let start = find(body, open.as_bytes())? + open.len();
        let headers_end = start + find(&body[start..], b"\r\n\r\n")? + 4;
        let close = format!("\r\n--{boundary}");
        let end = headers_end + find(&body[headers_end..], close.as_bytes())?;
        Some(self.body.slice(headers_end..end))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// An answer from a test server.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// The status.
    pub(crate) status: u16,
    /// Extra headers.
    pub(crate) headers: Vec<(String, String)>,
    /// The body.
    pub(crate) body: Bytes,
}

impl Answer {
    /// A 200 with a JSON body.
    pub(crate) fn json(value: &serde_json::Value) -> Self {
        Self::with(200, value.to_string())
    }

    /// A status with a body.
    pub(crate) fn with(status: u16, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A node-style error (`{"Message": …, "Code": 0, "Type": "error"}`).
    pub(crate) fn error(status: u16, message: &str) -> Self {
        Self::with(
            status,
            serde_json::json!({"Message": message, "Code": 0, "Type": "error"}).to_string(),
        )
    }
}

/// Serves `handler` on a free loopback port; returns `http://127.0.0.1:PORT`. The server
/// runs until the runtime it was started on shuts down.
pub(crate) async fn serve<F, Fut>(handler: F) -> String
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Answer> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<Incoming>| {
                    let handler = handler.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let query = parts
                            .uri
                            .query()
                            .map(|q| {
                                reqwest::Url::parse(&format!("http://x/?{q}"))
                                    .unwrap()
                                    .query_pairs()
                                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                                    .collect()
                            })
                            .unwrap_or_default();
                        let request = Request {
                            method: parts.method.to_string(),
                            path: parts.uri.path().to_owned(),
                            query,
                            headers: parts
                                .headers
                                .iter()
                                .map(|(k, v)| {
                                    (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                                })
                                .collect(),
                            body,
                        };
                        let answer = handler(request).await;
                        let mut response = hyper::Response::builder().status(answer.status);
                        for (k, v) in &answer.headers {
                            response = response.header(k, v);
                        }
                        Ok::<_, Infallible>(response.body(Full::new(answer.body)).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url
}

/// Sends `req` on to `upstream` and returns the node's status and body, or `None` if the
/// node could not be reached.
async fn pass_on(http: &reqwest::Client, upstream: &str, req: &Request) -> Option<(u16, Vec<u8>)> {
    let mut url = format!("{upstream}{}", req.path);
    if !req.query.is_empty() {
        let mut parsed = reqwest::Url::parse(&url).unwrap();
        parsed.query_pairs_mut().extend_pairs(req.query.iter());
        url = parsed.to_string();
    }
    let mut forward = http.post(url).body(req.body.clone());
    if let Some(ct) = req.header("content-type") {
        forward = forward.header("content-type", ct);
    }
    let response = forward.send().await.ok()?;
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default().to_vec();
    Some((status, body))
}

/// A proxy in front of a node that passes every request through and lets `alter` change
/// each answer body, given the request path and the status.
async fn altering_proxy<F>(upstream: &str, alter: F) -> String
where
    F: Fn(&str, u16, &mut Vec<u8>) + Send + Sync + 'static,
{
    let upstream = upstream.to_owned();
    let http = http();
    let alter = Arc::new(alter);
    serve(move |req: Request| {
        let upstream = upstream.clone();
        let http = http.clone();
        let alter = alter.clone();
        async move {
            let Some((status, mut body)) = pass_on(&http, &upstream, &req).await else {
                return Answer::error(502, "upstream unreachable");
            };
            alter(&req.path, status, &mut body);
            Answer::with(status, body)
        }
    })
    .await
}

/// A proxy in front of a node that passes every request through and, from the
/// `from`-th `block/get` answer on (counting from 1), flips one bit in each block
/// served. Returns the proxy's address and the counter of `block/get` calls.
pub(crate) async fn corrupting_proxy(upstream: &str, from: u64) -> (String, Arc<AtomicU64>) {
    let calls = Arc::new(AtomicU64::new(0));
    let counter = calls.clone();
    let url = altering_proxy(upstream, move |path, status, body| {
        if path.ends_with("/block/get") && status == 200 {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= from {
                match body.first_mut() {
                    Some(byte) => *byte ^= 0x01,
                    None => body.push(0),
                }
            }
        }
    })
    .await;
    (url, calls)
}

/// A proxy in front of a node that passes every request through and flips one bit of the
/// byte at `offset` of every `cat` answer (when the answer is that long).
pub(crate) async fn cat_corrupting_proxy(upstream: &str, offset: usize) -> String {
    altering_proxy(upstream, move |path, status, body| {
        if path.ends_with("/cat")
            && status == 200
            && let Some(byte) = body.get_mut(offset)
        {
            *byte ^= 0x01;
        }
    })
    .await
}
