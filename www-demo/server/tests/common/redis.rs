//! Debian's redis-server for the Redis mode's tests, and server instances on it.
//!
//! Each test starts its own Redis on a free port, without persistence, and stops it when the
//! [`Redis`] drops, whatever the outcome. An [`Instance`] runs on a runtime of its own, so a
//! test can kill it as `kill -9` would: its tasks stop where they are and its leases are left
//! to lapse.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use jobsocket_server::redis::RedisConfig;
use jobsocket_server::{AppState, Config, serve_until};
use tokio::net::TcpListener;

use super::Server;

/// A redis-server this test started; killed when dropped.
pub struct Redis {
    pub port: u16,
    child: Child,
    dir: std::path::PathBuf,
}

impl Redis {
    /// Starts redis-server on a free port of 127.0.0.1.
    pub async fn start() -> Redis {
        for _ in 0..5 {
            let port = StdListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free port")
                .port();
            if let Some(redis) = Redis::start_on(port).await {
                return redis;
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// Starts redis-server on `port`, empty; `None` if it does not listen within 5 s.
    pub async fn start_on(port: u16) -> Option<Redis> {
        let dir =
            std::env::temp_dir().join(format!("jobsocket-redis-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let child = Command::new(std::env::var("REDIS_SERVER").unwrap_or("redis-server".into()))
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package; make test installs it)");
        let mut redis = Redis { port, child, dir };
        for _ in 0..250 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(redis);
            }
            if redis.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A connection for the test's own commands.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("a Redis URL")
            .get_multiplexed_async_connection()
            .await
            .expect("a connection to the test's Redis")
    }

    /// Stops Redis and starts it again on the same port, empty, as a Redis without
    /// persistence comes back.
    pub async fn restart(&mut self) {
        self.stop();
        let again = Redis::start_on(self.port)
            .await
            .expect("Redis starts again");
        *self = again;
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A server instance on Redis, on a runtime of its own.
pub struct Instance {
    pub server: Server,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Instance {
    /// Starts instance `name` on `redis`, its jobs one event every `step_ms`, leases of
    /// `lease_ms`.
    pub async fn start(redis: &Redis, name: &str, step_ms: u64, lease_ms: u64) -> Instance {
        let config = Config {
            step_ms,
            admin: true,
            instance: Some(name.to_owned()),
            redis: Some(RedisConfig {
                lease_ms,
                ..RedisConfig::new(redis.url())
            }),
            ..Config::default()
        };
        let (sender, receiver) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime");
            let server = runtime.block_on(async {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let address: SocketAddr = listener.local_addr().expect("local address");
                let state = AppState::start(config)
                    .await
                    .expect("the instance reaches Redis");
                tokio::spawn(serve_until(listener, state.clone(), std::future::pending()));
                Server { address, state }
            });
            let _ = sender.send((server, runtime));
        });
        let (server, runtime) = receiver.await.expect("the instance starts");
        Instance {
            server,
            runtime: Some(runtime),
        }
    }

    /// Stops the instance at once, as `kill -9` does: no task runs again, nothing is released.
    pub fn kill(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
