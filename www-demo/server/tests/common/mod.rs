//! A harness for the server's integration tests: an in-process server on a free port, a
//! WebSocket client that decodes frames with the client's own decoder, and a minimal HTTP/1.1
//! client (a few lines over a TCP stream rather than one more dependency).

// Each test file uses part of this module; the rest would warn as dead code there.
#![allow(dead_code)]

pub mod redis;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use jobsocket::core::events::JobEvent;
use jobsocket::core::protocol::{ClientFrame, ServerFrame};
use jobsocket_server::{AppState, Config, Origins, serve_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Longest wait for anything the server should send: far more than any test job takes, so
/// only a broken server ever reaches it.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A server running in the test's runtime; it stops with the runtime.
pub struct Server {
    pub address: SocketAddr,
    pub state: AppState,
}

/// Starts a server with `config` on a free port of 127.0.0.1.
pub async fn start_with(config: Config) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local address");
    let state = AppState::new(config);
    tokio::spawn(serve_until(listener, state.clone(), std::future::pending()));
    Server { address, state }
}

/// Starts a server with the admin API, which pages of any 127.0.0.1 port may call
/// cross-origin (`--unsafe-test-origin`), as the browser test runners need.
pub async fn start_for_test_runners() -> Server {
    start_with(Config {
        admin: true,
        origins: Origins {
            allowed: Vec::new(),
            unsafe_test: vec!["http://127.0.0.1:*".parse().expect("a pattern")],
        },
        ..Config::default()
    })
    .await
}

/// Starts a server whose jobs emit one event every `step_ms` by default.
pub async fn start(step_ms: u64) -> Server {
    start_with(Config {
        step_ms,
        ..Config::default()
    })
    .await
}

/// Starts a server with the admin API on, whose jobs emit one event every millisecond.
pub async fn start_admin() -> Server {
    start_with(Config {
        step_ms: 1,
        admin: true,
        ..Config::default()
    })
    .await
}

/// An HTTP response, read whole.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", self.body))
    }
}

impl Server {
    /// One HTTP/1.1 request on a fresh connection, closed by the server after the response.
    pub async fn request(&self, method: &str, path: &str, body: Option<&str>) -> Response {
        self.request_with(method, path, &[], body).await
    }

    /// [`Server::request`] with extra headers, such as `Origin` or `Authorization`; a `Host`
    /// among them replaces the server's address.
    pub async fn request_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Response {
        let mut stream = TcpStream::connect(self.address).await.expect("connect");
        let body = body.unwrap_or("");
        let address = self.address.to_string();
        let host = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("host"))
            .map_or(address.as_str(), |(_, host)| *host);
        let extra: String = headers
            .iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{extra}\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            host,
            body.len()
        );
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut raw = Vec::new();
        tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw))
            .await
            .expect("response in time")
            .expect("read");
        let raw = String::from_utf8(raw).expect("UTF-8 response");
        let (head, body) = raw.split_once("\r\n\r\n").expect("a header block");
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .expect("a status line");
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        Response {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    /// Starts a job of `kind` (`generations` or `compositions`) and returns its id.
    pub async fn start_job(&self, kind: &str, body: &str) -> String {
        let response = self
            .request("POST", &format!("/api/v1/{kind}"), Some(body))
            .await;
        assert_eq!(response.status, 201, "{}", response.body);
        let json = response.json();
        assert_eq!(json["status"], "queued");
        json["id"].as_str().expect("an id").to_owned()
    }

    /// Opens a WebSocket and reads its `connected` frame.
    pub async fn socket(&self) -> Socket {
        self.socket_with_query("requestId=ignored").await
    }

    /// Opens a WebSocket at `/ws?{query}` and reads its `connected` frame.
    pub async fn socket_with_query(&self, query: &str) -> Socket {
        let mut socket = self.connect(query).await.expect("WebSocket handshake");
        match socket.next_frame().await {
            ServerFrame::Connected { client_id, .. } => {
                // `c_N`, or `NAME.c_N` from a named instance.
                let number = client_id
                    .rsplit_once('.')
                    .map_or(client_id.as_str(), |(_, n)| n);
                assert!(number.starts_with("c_"), "{client_id}");
            }
            other => panic!("expected connected, got {other:?}"),
        }
        socket
    }

    /// Opens a WebSocket at `/ws?{query}` and reads nothing yet.
    pub async fn connect(
        &self,
        query: &str,
    ) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
        let url = format!("ws://{}/ws?{query}", self.address);
        let (stream, _) = tokio_tungstenite::connect_async(url).await?;
        Ok(Socket { stream })
    }

    /// Opens a WebSocket at `/ws?{query}` whose TCP receive buffer is a few kilobytes, and
    /// reads nothing yet: a client that stops reading shuts its window soon.
    pub async fn connect_with_small_window(&self, query: &str) -> Socket {
        let tcp = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
        tcp.set_recv_buffer_size(4096)
            .expect("a small receive buffer");
        let stream = tcp.connect(self.address).await.expect("connect");
        let url = format!("ws://{}/ws?{query}", self.address);
        let (stream, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream))
            .await
            .expect("WebSocket handshake");
        Socket { stream }
    }

    /// Opens a WebSocket at `/ws?{query}` as a browser page of `origin` would: with an
    /// `Origin` header.
    pub async fn connect_from(
        &self,
        origin: &str,
        query: &str,
    ) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("ws://{}/ws?{query}", self.address);
        let mut request = url.into_client_request()?;
        let origin = origin.parse().expect("an Origin header value");
        request.headers_mut().insert("origin", origin);
        let (stream, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Socket { stream })
    }

    /// Opens a WebSocket at `/ws` as a browser would that reached the server by the name
    /// `host` (a `Host` header value): with that `Host`, and with the `Origin` of a page of
    /// that name.
    pub async fn connect_as(
        &self,
        host: &str,
    ) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("ws://{}/ws", self.address);
        let mut request = url.into_client_request()?;
        let headers = request.headers_mut();
        headers.insert("host", host.parse().expect("a Host header value"));
        let origin = format!("http://{host}");
        headers.insert("origin", origin.parse().expect("an Origin header value"));
        let (stream, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Socket { stream })
    }

    /// A request with the server's admin key.
    pub async fn admin_request(&self, method: &str, path: &str, body: Option<&str>) -> Response {
        let key = self.state.admin_key().expect("the admin API is on");
        self.request_with(method, path, &[("x-admin-key", key)], body)
            .await
    }

    /// An admin request that must answer 200; returns its JSON body.
    pub async fn admin(&self, method: &str, path: &str, body: Option<&str>) -> serde_json::Value {
        let response = self.admin_request(method, path, body).await;
        assert_eq!(response.status, 200, "{method} {path}: {}", response.body);
        response.json()
    }

    /// Turns an admin switch (`mute-pongs`, `refuse-ws`, `fail-polls`, `fail-messages`) on or
    /// off.
    pub async fn switch(&self, name: &str, on: bool) {
        let body = format!(r#"{{"on":{on}}}"#);
        let answer = self
            .admin("POST", &format!("/admin/{name}"), Some(&body))
            .await;
        assert_eq!(answer, serde_json::json!({"ok": true}));
    }

    /// `GET /admin/stats`.
    pub async fn stats(&self) -> serde_json::Value {
        self.admin("GET", "/admin/stats", None).await
    }
}

/// How a socket ended.
#[derive(Debug)]
pub enum End {
    /// The server sent a close frame.
    Closed(Option<CloseFrame>),
    /// The connection ended without a close frame.
    Dropped(String),
}

/// A test's WebSocket to the server.
pub struct Socket {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Socket {
    pub async fn send(&mut self, frame: &ClientFrame) {
        self.send_text(&frame.encode()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::text(text))
            .await
            .expect("send a frame");
    }

    /// Closes the socket as a client does: a close frame, then the server's answer.
    pub async fn close(&mut self) {
        self.stream.close(None).await.expect("send a close frame");
        let (_, end) = self.until_end().await;
        assert!(
            matches!(end, End::Closed(_)),
            "expected a close frame, got {end:?}"
        );
    }

    /// The next text message, or `None` if nothing arrives within `wait`.
    pub async fn next_text_within(&mut self, wait: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()?;
            match message {
                Some(Ok(Message::Text(text))) => return Some(text.as_str().to_owned()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Reads until the socket ends: the text messages before the end, and how it ended. Fails
    /// the test if it does not end in time.
    pub async fn until_end(&mut self) -> (Vec<String>, End) {
        let mut texts = Vec::new();
        loop {
            let message = tokio::time::timeout(PATIENCE, self.stream.next())
                .await
                .expect("the socket ends in time");
            match message {
                Some(Ok(Message::Text(text))) => texts.push(text.as_str().to_owned()),
                Some(Ok(Message::Close(frame))) => return (texts, End::Closed(frame)),
                Some(Ok(_)) => {}
                Some(Err(error)) => return (texts, End::Dropped(error.to_string())),
                None => return (texts, End::Dropped("end of stream".to_owned())),
            }
        }
    }

    /// The next text message; fails the test if none comes.
    pub async fn next_text(&mut self) -> String {
        self.next_text_within(PATIENCE)
            .await
            .expect("a frame from the server in time")
    }

    /// Every frame of the next WebSocket message (several for a batch), decoded by the client.
    pub async fn next_frames(&mut self) -> Vec<ServerFrame> {
        let text = self.next_text().await;
        ServerFrame::decode_all(&text)
            .into_iter()
            .map(|frame| frame.unwrap_or_else(|error| panic!("{error}: {text}")))
            .collect()
    }

    /// The next message, which must hold exactly one frame.
    pub async fn next_frame(&mut self) -> ServerFrame {
        let mut frames = self.next_frames().await;
        assert_eq!(frames.len(), 1, "expected one frame, got {frames:?}");
        frames.remove(0)
    }

    /// Reads `subscribed` for job `id` and returns its `seq`.
    pub async fn subscribed(&mut self, id: &str) -> u64 {
        match self.next_frame().await {
            ServerFrame::Subscribed { id: job, seq, .. } if job == id => seq,
            other => panic!("expected subscribed to {id}, got {other:?}"),
        }
    }

    /// Reads events of job `id` until its terminal event, as `(seq, event)`. Fails on any
    /// other frame.
    pub async fn events_until_terminal(&mut self, id: &str) -> Vec<(u64, JobEvent)> {
        let mut events = Vec::new();
        while !events
            .last()
            .is_some_and(|(_, event): &(u64, JobEvent)| event.is_terminal())
        {
            for frame in self.next_frames().await {
                match frame {
                    ServerFrame::Event {
                        id: job,
                        seq,
                        event,
                    } if job == id => {
                        events.push((seq, event));
                    }
                    other => panic!("expected an event of {id}, got {other:?}"),
                }
            }
        }
        events
    }
}

/// The `seq`s of `events`.
pub fn seqs(events: &[(u64, JobEvent)]) -> Vec<u64> {
    events.iter().map(|(seq, _)| *seq).collect()
}

/// The event names of `events`.
pub fn names(events: &[(u64, JobEvent)]) -> Vec<&'static str> {
    events.iter().map(|(_, event)| event.name()).collect()
}
