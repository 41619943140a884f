//! A scripted HTTP/1.1 server on loopback for the fuzz tests: every request is answered by a
//! script (status, raw header bytes, body, and optionally a body cut short), one connection per
//! request. Raw TCP rather than a web framework, so that an answer can be anything a product or a
//! broken proxy could send: header values with odd bytes, a body shorter than its declared length.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the script sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Req {
    pub method: String,
    /// Path without the query.
    pub path: String,
    pub query: String,
    pub body: Vec<u8>,
}

/// One answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    /// Closes the connection after this many body bytes (the declared length stays whole).
    pub cut: Option<usize>,
}

impl Answer {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), b"application/json".to_vec())],
            body: serde_json::to_vec(&body).expect("JSON serialises"),
            cut: None,
        }
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            cut: None,
        }
    }

    pub fn with_header(mut self, name: &str, value: &[u8]) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_vec()));
        self
    }
}

type Script = Arc<dyn Fn(&Req) -> Answer + Send + Sync>;

/// The server; its script can be replaced between cases.
pub struct Server {
    pub base: String,
    script: Arc<Mutex<Script>>,
    log: Arc<Mutex<Vec<Req>>>,
}

impl Server {
    /// Starts serving on `127.0.0.1` (an ephemeral port) on the current runtime.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("loopback");
        let base = format!("http://{}", listener.local_addr().expect("bound"));
        let script: Arc<Mutex<Script>> =
            Arc::new(Mutex::new(Arc::new(|_: &Req| Answer::empty(500))));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (s, l) = (script.clone(), log.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let script = s.lock().expect("script lock").clone();
                let log = l.clone();
                tokio::spawn(async move {
                    // A client that gives up mid-answer is no concern of the script's.
                    let _ = serve(stream, script, log).await;
                });
            }
        });
        Self { base, script, log }
    }

    /// Answers every request from now on with `script`, and clears the request log.
    pub fn script(&self, script: impl Fn(&Req) -> Answer + Send + Sync + 'static) {
        *self.script.lock().expect("script lock") = Arc::new(script);
        self.log.lock().expect("log lock").clear();
    }

    /// The requests answered since the script was set.
    pub fn requests(&self) -> Vec<Req> {
        self.log.lock().expect("log lock").clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    script: Script,
    log: Arc<Mutex<Vec<Req>>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > 1 << 20 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_string();
    let target = request_line.next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let length: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let req = Req {
        method,
        path: path.to_string(),
        query: query.to_string(),
        body,
    };
    let answer = script(&req);
    log.lock().expect("log lock").push(req);
    let mut out = format!("HTTP/1.1 {} Scripted\r\n", answer.status).into_bytes();
    for (name, value) in &answer.headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            answer.body.len()
        )
        .as_bytes(),
    );
    let sent = answer
        .cut
        .unwrap_or(answer.body.len())
        .min(answer.body.len());
    out.extend_from_slice(&answer.body[..sent]);
    stream.write_all(&out).await?;
    stream.shutdown().await
}
