//! `synack serve http`: a static file server (hyper over synack streams).
//! Files are streamed from disk in chunks, so memory stays flat whatever
//! their size; responses carry Content-Length, Content-Type (from the file
//! name), Accept-Ranges, and answer HEAD and single byte ranges (RFC 9110
//! §14: `bytes=a-b`, `bytes=a-`, `bytes=-n`; several ranges get the whole
//! file, an unsatisfiable one 416).

use bytes::Bytes;
use http_body_util::{Either, Empty, Full};
use hyper::body::{Body, Frame};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::future::Future;
use std::io::SeekFrom;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use synack::TcpStream;

/// Bytes read from the file per body frame.
const CHUNK: usize = 1024 * 1024;
/// Files up to this size are read whole and sent with the headers in one write.
const SMALL_FILE: u64 = 64 * 1024;

/// A response body: a short text, nothing, or a byte range of a file.
type ResponseBody = Either<Either<Full<Bytes>, Empty<Bytes>>, FileBody>;

/// Streams `remaining` bytes of an open file, a chunk per frame. Each chunk
/// is read on the blocking pool straight into a fresh buffer (no
/// zero-filling, no copy through tokio's file buffer), and the next read
/// starts as soon as a chunk is handed to hyper, so disk and network overlap.
pub struct FileBody {
    remaining: u64,
    next: Option<ChunkRead>,
}

/// A chunk being read on the blocking pool; the file comes back with it.
type ChunkRead = tokio::task::JoinHandle<std::io::Result<(std::fs::File, Vec<u8>)>>;

impl FileBody {
    /// `len` bytes of `file` from where it is positioned.
    fn new(file: std::fs::File, len: u64) -> Self {
        let next = (len > 0).then(|| Self::read(file, len));
        FileBody { remaining: len, next }
    }

    fn read(file: std::fs::File, remaining: u64) -> ChunkRead {
        let want = remaining.min(CHUNK as u64);
        tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut data = Vec::with_capacity(want as usize);
            (&file).take(want).read_to_end(&mut data)?;
            Ok((file, data))
        })
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let Some(pending) = this.next.as_mut() else { return Poll::Ready(None) };
        let done = match Pin::new(pending).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r.map_err(std::io::Error::other).and_then(|r| r),
        };
        this.next = None;
        let (file, data) = match done {
            Ok(d) => d,
            Err(e) => return Poll::Ready(Some(Err(e))),
        };
        if data.is_empty() {
            let e = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file is shorter than it was");
            return Poll::Ready(Some(Err(e)));
        }
        this.remaining -= data.len() as u64;
        if this.remaining > 0 {
            this.next = Some(Self::read(file, this.remaining));
        }
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(data)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.remaining)
    }
}

/// Serves files under `dir` on one connection. Like nginx, it turns Nagle's
/// algorithm off: a response's last segment must not wait for the client's
/// delayed ACK of the one before.
pub async fn serve_connection(s: TcpStream, dir: Arc<PathBuf>) -> std::io::Result<()> {
    s.set_nodelay(true)?;
    let io = hyper_util::rt::TokioIo::new(s);
    let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let dir = dir.clone();
        async move { Ok::<_, std::convert::Infallible>(respond(&dir, &req)) }
    });
    hyper::server::conn::http1::Builder::new().serve_connection(io, service).await.map_err(std::io::Error::other)
}

fn text(code: StatusCode, body: &str) -> Response<ResponseBody> {
    let mut r = Response::new(Either::Left(Either::Left(Full::new(Bytes::from(format!("{body}\n"))))));
    *r.status_mut() = code;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

/// What the file system said about a request's path, found in one trip to
/// the blocking pool.
enum Found {
    Missing,
    Forbidden,
    Listing(String),
    Unsatisfiable(u64),
    /// `len` bytes at `start` of a file of `size`: read whole (small) or open at `start`.
    File {
        status: StatusCode,
        start: u64,
        len: u64,
        size: u64,
        path: PathBuf,
        data: Source,
    },
}

/// Where a file's bytes come from.
enum Source {
    None,
    Read(Bytes),
    Open(std::fs::File),
}

/// Looks the path up, and reads a small file or opens a large one.
fn find(dir: &Path, path: &str, range: Option<&str>, head: bool) -> Found {
    use std::io::{Read, Seek};
    let rel = Path::new(path.trim_start_matches('/'));
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Found::Forbidden;
    }
    let full = if rel.as_os_str().is_empty() { dir.to_path_buf() } else { dir.join(rel) };
    let Ok(meta) = std::fs::metadata(&full) else { return Found::Missing };
    if meta.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(&full)
            .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        return Found::Listing(names.join("\n"));
    }
    let size = meta.len();
    let (status, start, len) = match range.map(|v| parse_range(v, size)) {
        None | Some(Range::Ignored) => (StatusCode::OK, 0, size),
        Some(Range::Bytes(a, b)) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        Some(Range::Unsatisfiable) => return Found::Unsatisfiable(size),
    };
    let data = if head {
        Source::None
    } else {
        let Ok(mut file) = std::fs::File::open(&full) else { return Found::Missing };
        if start > 0 && file.seek(SeekFrom::Start(start)).is_err() {
            return Found::Missing;
        }
        if len <= SMALL_FILE {
            let mut buf = vec![0u8; len as usize];
            if file.read_exact(&mut buf).is_err() {
                return Found::Missing;
            }
            Source::Read(Bytes::from(buf))
        } else {
            Source::Open(file)
        }
    };
    Found::File { status, start, len, size, path: full, data }
}

/// The response to one request.
fn respond(dir: &Path, req: &Request<hyper::body::Incoming>) -> Response<ResponseBody> {
    let head = req.method() == Method::HEAD;
    if !head && req.method() != Method::GET {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD");
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let range = req.headers().get(header::RANGE).and_then(|v| v.to_str().ok());
    // Inline, as nginx does: a lookup and a small read are page-cache hits of
    // a few microseconds; a trip to the blocking pool per request cost half
    // the keep-alive request rate (see BENCHMARKS.md). Large files stream
    // from the blocking pool.
    let found = find(dir, req.uri().path(), range, head);
    let (status, start, len, size, path, data) = match found {
        Found::File { status, start, len, size, path, data } => (status, start, len, size, path, data),
        Found::Missing => return text(StatusCode::NOT_FOUND, "not found"),
        Found::Forbidden => return text(StatusCode::FORBIDDEN, "forbidden"),
        Found::Listing(names) => return text(StatusCode::OK, &names),
        Found::Unsatisfiable(size) => {
            let mut r = text(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
            r.headers_mut().insert(header::CONTENT_RANGE, value(&format!("bytes */{size}")));
            return r;
        }
    };
    let body = match data {
        Source::None => Either::Left(Either::Right(Empty::new())),
        Source::Read(bytes) => Either::Left(Either::Left(Full::new(bytes))),
        Source::Open(file) => Either::Right(FileBody::new(file, len)),
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_LENGTH, value(&len.to_string()));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&path)));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(header::CONTENT_RANGE, value(&format!("bytes {start}-{}/{size}", start + len - 1)));
    }
    r
}

fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// What a Range header asks of a representation of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// Bytes `a..=b`.
    Bytes(u64, u64),
    /// Not a single byte range synack serves: the whole file (RFC 9110 §14.2 allows it).
    Ignored,
    /// No byte of the file is in it: 416.
    Unsatisfiable,
}

/// Parses a Range header value (RFC 9110 §14.1.2).
pub fn parse_range(v: &str, size: u64) -> Range {
    let Some(spec) = v.trim().strip_prefix("bytes=") else { return Range::Ignored };
    if spec.contains(',') {
        return Range::Ignored;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return Range::Ignored };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        // bytes=-n: the last n bytes.
        (true, false) => match num(b) {
            Some(0) => Range::Unsatisfiable,
            Some(_) if size == 0 => Range::Unsatisfiable,
            Some(n) => Range::Bytes(size.saturating_sub(n), size - 1),
            None => Range::Ignored,
        },
        (false, _) => {
            let Some(first) = num(a) else { return Range::Ignored };
            let last = if b.is_empty() { Some(u64::MAX) } else { num(b) };
            match last {
                None => Range::Ignored,
                Some(last) if last < first => Range::Ignored,
                Some(_) if first >= size => Range::Unsatisfiable,
                Some(last) => Range::Bytes(first, last.min(size - 1)),
            }
        }
        (true, true) => Range::Ignored,
    }
}

/// The media type of a file, from its extension.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt" | "log") => "text/plain; charset=utf-8",
        Some("md") => "text/markdown; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("csv") => "text/csv; charset=utf-8",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("pdf") => "application/pdf",
        Some("wasm") => "application/wasm",
        Some("zip") => "application/zip",
        Some("gz") => "application/gzip",
        Some("tar") => "application/x-tar",
        Some("mp4") => "video/mp4",
        Some("webm") => "video/webm",
        Some("mp3") => "audio/mpeg",
        Some("pcap") => "application/vnd.tcpdump.pcap",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_as_rfc_9110_defines_them() {
        assert_eq!(parse_range("bytes=0-99", 1000), Range::Bytes(0, 99));
        assert_eq!(parse_range("bytes=900-", 1000), Range::Bytes(900, 999));
        assert_eq!(parse_range("bytes=-100", 1000), Range::Bytes(900, 999));
        assert_eq!(parse_range("bytes=-5000", 1000), Range::Bytes(0, 999), "a suffix longer than the file");
        assert_eq!(parse_range("bytes=990-5000", 1000), Range::Bytes(990, 999), "clipped to the end");
        assert_eq!(parse_range("bytes=1000-", 1000), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=-1", 0), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), Range::Ignored, "several ranges: the whole file");
        assert_eq!(parse_range("bytes=5-1", 1000), Range::Ignored, "invalid: ignored");
        assert_eq!(parse_range("items=0-1", 1000), Range::Ignored);
        assert_eq!(parse_range("bytes=x-1", 1000), Range::Ignored);
    }

    #[test]
    fn media_types_by_extension() {
        assert_eq!(content_type(Path::new("a/index.HTML")), "text/html; charset=utf-8");
        assert_eq!(content_type(Path::new("x.png")), "image/png");
        assert_eq!(content_type(Path::new("README")), "application/octet-stream");
    }
}
