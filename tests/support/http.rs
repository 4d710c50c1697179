//! End-to-end helpers for the HTTP server: the real `omnibus serve` binary started on a
//! free loopback port, and a small blocking HTTP/1.1 client over `std::net::TcpStream`.
//!
//! The client is hand-rolled on purpose: the tests must be able to send what a library
//! client would refuse to (broken JSON, a lying content type, a chunked body over the
//! limit) and to see the exact status and bytes the server answers.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long any one step (start, a request, a stop) may take before the test fails
/// with a message instead of hanging.
pub const STEP_LIMIT: Duration = Duration::from_secs(30);

/// A configuration for tests: two shards, small WAL segments, a small body limit, with
/// `extra` (whole tables other than `[server]`) and `server` (more `[server]` keys).
pub fn write_config(dir: &Path, extra: &str, server: &str) -> PathBuf {
    let path = dir.join("server.toml");
    let text = format!(
        "[engine]\nshards = 2\n[wal]\nsegment_bytes = 4_194_304\nbatch_bytes_max = 1_048_576\n{extra}\n[server]\nbody_limit_bytes = 8_192\nshutdown_timeout_ms = 10_000\n{server}"
    );
    std::fs::write(&path, text).expect("write the test config");
    path
}

/// A running `omnibus serve`. Killed when dropped if it is still running.
pub struct Server {
    child: Option<Child>,
    /// `127.0.0.1:port`.
    pub addr: String,
    stderr_path: PathBuf,
}

impl Server {
    /// Starts the binary with `--config config --listen 127.0.0.1:0 --data-dir data`,
    /// reads the address it prints, and waits until `/health` answers 200.
    pub fn start(config: &Path, data: &Path) -> Server {
        let stderr_path = data.with_extension("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).expect("create the server's log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_omnibus"))
            .arg("serve")
            .arg("--config")
            .arg(config)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn omnibus serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if let Some(addr) = line.strip_prefix("omnibus: listening on http://") {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let mut server = Server {
            child: Some(child),
            addr: String::new(),
            stderr_path,
        };
        // The reader thread hangs up if the server exits without printing an address.
        server.addr = match rx.recv_timeout(STEP_LIMIT) {
            Ok(addr) => addr,
            Err(_) => panic!(
                "omnibus serve printed no address (it exited, or took over {STEP_LIMIT:?}); its log:\n{}",
                server.log()
            ),
        };
        let deadline = Instant::now() + STEP_LIMIT;
        loop {
            if let Ok(r) = server.try_request("GET", "/health", &[], None) {
                if r.status == 200 {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "/health did not answer 200; log:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    /// The server's stderr so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        // SAFETY: kill(2) on the child's own pid, which this handle still owns (not
        // yet waited for), so the pid cannot have been reused.
        let rc = unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        assert_eq!(rc, 0, "kill(SIGTERM) failed");
        self.wait()
    }

    /// Waits for the process to exit by itself.
    pub fn wait(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        let deadline = Instant::now() + STEP_LIMIT;
        loop {
            if let Some(status) = child.try_wait().expect("wait for omnibus serve") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "omnibus serve did not exit within {STEP_LIMIT:?}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> std::io::Result<Response> {
        request(&self.addr, method, path, headers, body)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        self.try_request(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}; server log:\n{}", self.log()))
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], None)
    }

    /// POSTs `body` as JSON.
    pub fn post(&self, path: &str, body: &Value) -> Response {
        self.post_with(path, &[], body)
    }

    pub fn post_with(&self, path: &str, headers: &[(&str, &str)], body: &Value) -> Response {
        let mut all = vec![("Content-Type", "application/json")];
        all.extend_from_slice(headers);
        self.request("POST", path, &all, Some(body.to_string().as_bytes()))
    }

    /// POSTs raw bytes labelled as JSON.
    pub fn post_raw(&self, path: &str, body: &[u8]) -> Response {
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            Some(body),
        )
    }

    /// Opens `GET /v1/events` and reads up to its `ready` event.
    pub fn events(&self) -> EventStream {
        let mut stream = connect(&self.addr).expect("connect for events");
        write!(
            stream,
            "GET /v1/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
            self.addr
        )
        .expect("send the events request");
        let mut reader = BufReader::new(stream);
        let (status, headers) = read_head(&mut reader).expect("events answer head");
        assert_eq!(status, 200, "GET /v1/events answered {status}");
        let chunked = header(&headers, "transfer-encoding").is_some_and(|v| v.contains("chunked"));
        let mut events = EventStream {
            reader,
            chunked,
            buffer: String::new(),
            ended: false,
        };
        let (name, _) = events.next().expect("a ready event");
        assert_eq!(name, "ready");
        events
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An answer: status, headers (names lowercased) and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("answer {} is not JSON ({e}): {}", self.status, self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The error code of an error answer.
    pub fn code(&self) -> String {
        let body = self.json();
        body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error answer: {body}"))
            .to_owned()
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn connect(addr: &str) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(STEP_LIMIT))?;
    stream.set_write_timeout(Some(STEP_LIMIT))?;
    Ok(stream)
}

/// One request on its own connection (`Connection: close`). A body is sent with its
/// `Content-Length` unless the headers say `Transfer-Encoding: chunked`, in which case
/// it is sent as one chunk.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<Response> {
    let mut stream = connect(addr)?;
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head += &format!("{name}: {value}\r\n");
    }
    if let (Some(body), false) = (body, chunked) {
        head += &format!("Content-Length: {}\r\n", body.len());
    }
    head += "\r\n";
    let mut bytes = head.into_bytes();
    if let Some(body) = body {
        if chunked {
            bytes.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
            bytes.extend_from_slice(body);
            bytes.extend_from_slice(b"\r\n0\r\n\r\n");
        } else {
            bytes.extend_from_slice(body);
        }
    }
    stream.write_all(&bytes)?;
    let mut reader = BufReader::new(stream);
    let (status, headers) = read_head(&mut reader)?;
    // An answer to HEAD has the headers of GET's answer, its length included, and no body.
    let body = if method == "HEAD" {
        Vec::new()
    } else if header(&headers, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let mut body = Vec::new();
        while let Some(chunk) = read_chunk(&mut reader)? {
            body.extend_from_slice(&chunk);
        }
        body
    } else if let Some(length) = header(&headers, "content-length") {
        let length: usize = length.parse().map_err(std::io::Error::other)?;
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    } else {
        let mut body = Vec::new();
        reader.read_to_end(&mut body)?;
        body
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn read_head(reader: &mut impl BufRead) -> std::io::Result<(u16, Vec<(String, String)>)> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other(
                "the connection closed inside the head",
            ));
        }
        let line = line.trim_end();
        if line.is_empty() {
            return Ok((status, headers));
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
}

/// One chunk of a chunked body; `None` at the last (empty) chunk or the end of the stream.
fn read_chunk(reader: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut size_line = String::new();
    if reader.read_line(&mut size_line)? == 0 {
        return Ok(None);
    }
    let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
        .map_err(|_| std::io::Error::other(format!("bad chunk size {size_line:?}")))?;
    if size == 0 {
        return Ok(None);
    }
    let mut chunk = vec![0; size + 2];
    reader.read_exact(&mut chunk)?;
    chunk.truncate(size);
    Ok(Some(chunk))
}

/// A server-sent event stream being read.
pub struct EventStream {
    reader: BufReader<TcpStream>,
    chunked: bool,
    buffer: String,
    ended: bool,
}

impl EventStream {
    /// The next event (name and JSON data), skipping comments; `None` once the server
    /// ended the stream.
    pub fn next(&mut self) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        name = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data += v;
                    }
                }
                match name {
                    Some(name) => {
                        let value = serde_json::from_str(&data).unwrap_or_else(|e| {
                            panic!("event {name} data is not JSON ({e}): {data}")
                        });
                        return Some((name, value));
                    }
                    // A comment block (keepalive).
                    None => continue,
                }
            }
            if self.ended {
                return None;
            }
            let more = if self.chunked {
                read_chunk(&mut self.reader).expect("read the event stream")
            } else {
                let mut buf = vec![0; 4096];
                let n = self.reader.read(&mut buf).expect("read the event stream");
                buf.truncate(n);
                (n > 0).then_some(buf)
            };
            match more {
                Some(bytes) => self.buffer += &String::from_utf8_lossy(&bytes),
                None => self.ended = true,
            }
        }
    }

    /// Reads events until one named `name` whose `request_no` is `request_no`.
    pub fn until(&mut self, name: &str, request_no: &str) -> Value {
        loop {
            match self.next() {
                Some((n, data)) if n == name && data["request_no"] == request_no => return data,
                Some(_) => {}
                None => panic!("the event stream ended before {name} of {request_no}"),
            }
        }
    }
}
