//! `synack serve http`: a static file server (hyper over synack streams).
//! Files are streamed from disk in chunks, so memory stays flat whatever
//! their size; responses carry Content-Length, Content-Type (from the file
//! name), Accept-Ranges, and answer HEAD and single byte ranges (RFC 9110
//! §14: `bytes=a-b`, `bytes=a-`, `bytes=-n`; several ranges get the whole
//! file, an unsatisfiable one 416).

use bytes::{Bytes, BytesMut};
use http_body_util::{Either, Empty, Full};
use hyper::body::{Body, Frame};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::io::SeekFrom;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use synack::TcpStream;
use tokio::io::{AsyncRead, AsyncSeekExt, ReadBuf};

/// Bytes read from the file per body frame.
const CHUNK: usize = 256 * 1024;

/// A response body: a short text, nothing, or a byte range of a file.
type ResponseBody = Either<Either<Full<Bytes>, Empty<Bytes>>, FileBody>;

/// Streams `remaining` bytes of an open file, a chunk per frame.
pub struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
    buf: BytesMut,
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = (CHUNK as u64).min(this.remaining) as usize;
        if this.buf.capacity() < want {
            this.buf.reserve(want);
        }
        // The read goes into initialised memory; the chunk is sent whole.
        this.buf.resize(want, 0);
        let mut rb = ReadBuf::new(&mut this.buf[..want]);
        match Pin::new(&mut this.file).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file is shorter than it was",
                    ))));
                }
                this.remaining -= n as u64;
                let chunk = this.buf.split_to(n).freeze();
                this.buf.clear();
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.remaining)
    }
}

/// Serves files under `dir` on one connection.
pub async fn serve_connection(s: TcpStream, dir: Arc<PathBuf>) -> std::io::Result<()> {
    let io = hyper_util::rt::TokioIo::new(s);
    let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let dir = dir.clone();
        async move { Ok::<_, std::convert::Infallible>(respond(&dir, &req).await) }
    });
    hyper::server::conn::http1::Builder::new().serve_connection(io, service).await.map_err(std::io::Error::other)
}

fn text(code: StatusCode, body: &str) -> Response<ResponseBody> {
    let mut r = Response::new(Either::Left(Either::Left(Full::new(Bytes::from(format!("{body}\n"))))));
    *r.status_mut() = code;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

/// The response to one request.
async fn respond(dir: &Path, req: &Request<hyper::body::Incoming>) -> Response<ResponseBody> {
    let head = req.method() == Method::HEAD;
    if !head && req.method() != Method::GET {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD");
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let rel = Path::new(req.uri().path().trim_start_matches('/'));
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return text(StatusCode::FORBIDDEN, "forbidden");
    }
    let full = if rel.as_os_str().is_empty() { dir.to_path_buf() } else { dir.join(rel) };
    let Ok(meta) = tokio::fs::metadata(&full).await else { return text(StatusCode::NOT_FOUND, "not found") };
    if meta.is_dir() {
        let mut names = Vec::new();
        if let Ok(mut rd) = tokio::fs::read_dir(&full).await {
            while let Ok(Some(e)) = rd.next_entry().await {
                names.push(e.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        return text(StatusCode::OK, &names.join("\n"));
    }
    let size = meta.len();
    let range = req.headers().get(header::RANGE).and_then(|v| v.to_str().ok()).map(|v| parse_range(v, size));
    let (status, start, len) = match range {
        None | Some(Range::Ignored) => (StatusCode::OK, 0, size),
        Some(Range::Bytes(a, b)) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        Some(Range::Unsatisfiable) => {
            let mut r = text(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
            r.headers_mut().insert(header::CONTENT_RANGE, value(&format!("bytes */{size}")));
            return r;
        }
    };
    let body = if head {
        Either::Left(Either::Right(Empty::new()))
    } else {
        let Ok(mut file) = tokio::fs::File::open(&full).await else { return text(StatusCode::NOT_FOUND, "not found") };
        if start > 0 && file.seek(SeekFrom::Start(start)).await.is_err() {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "seek failed");
        }
        Either::Right(FileBody { file, remaining: len, buf: BytesMut::new() })
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_LENGTH, value(&len.to_string()));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&full)));
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
