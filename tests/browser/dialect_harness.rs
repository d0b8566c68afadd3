//! What the dialect browser tests share (`tests/browser_dialects.rs`,
//! `tests/browser_socket_io_cluster.rs`): the dialect servers' addresses and control APIs
//! (`tests/e2e/dialect-servers.mjs`, passed at build time in `JOBSOCKET_TEST_DIALECTS`), the
//! README's configurations, clients of them, and readers of what a client was given.

use std::rc::Rc;
use std::time::Duration;

use jobsocket::core::{Config, DialectConfig, Event, GenerationEvent, JobEvent, Status};
use jobsocket::web::{Driver, TokenSource};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use super::harness::Recorder;

/// The README's configuration of one server kind (`ep080`, `story1615`, `phase7`,
/// `story007`): `pkg-template/test/dialects.test.tsx` proves the README's are these.
pub fn readme_config(name: &str) -> String {
    let configs = js_sys::JSON::parse(include_str!("../dialect-configs.json")).expect("JSON");
    let config = js_sys::Reflect::get(&configs, &name.into()).expect("a configuration");
    js_sys::JSON::stringify(&config)
        .ok()
        .and_then(|text| text.as_string())
        .unwrap_or_else(|| panic!("no configuration {name}"))
}

/// The address of one of the dialect servers or control APIs.
pub fn address(name: &str) -> String {
    let Some(addresses) = option_env!("JOBSOCKET_TEST_DIALECTS") else {
        panic!("JOBSOCKET_TEST_DIALECTS names the dialect servers; run `make test`")
    };
    let addresses = js_sys::JSON::parse(addresses).expect("JSON addresses");
    js_sys::Reflect::get(&addresses, &name.into())
        .ok()
        .and_then(|value| value.as_string())
        .unwrap_or_else(|| panic!("no {name} in JOBSOCKET_TEST_DIALECTS"))
}

/// POSTs to the control API of the in-memory dialect servers; the JSON answer.
pub async fn control(path: &str, body: &str) -> JsValue {
    control_of("control", path, body).await
}

/// POSTs to the control API named `api` in `JOBSOCKET_TEST_DIALECTS` (`control`, or one
/// Socket.IO instance's: `controlA`, `controlB`); the JSON answer.
pub async fn control_of(api: &str, path: &str, body: &str) -> JsValue {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    let url = format!("{}{path}", address(api));
    let request = web_sys::Request::new_with_str_and_init(&url, &init).unwrap();
    let response: web_sys::Response =
        JsFuture::from(web_sys::window().unwrap().fetch_with_request(&request))
            .await
            .expect("the control API answers")
            .into();
    assert_eq!(response.status(), 200, "POST {api}{path}");
    JsFuture::from(response.json().unwrap()).await.unwrap()
}

/// A name no other test (nor the other browser, nor a rerun) uses.
pub fn unique(label: &str) -> String {
    format!("{label}-{:x}", (js_sys::Math::random() * 1e15) as u64)
}

/// A token the servers accept, signed over `claims` (a JSON object: `user`, `workspace`).
pub async fn token_with(claims: &str) -> String {
    let answer = control("/token", claims).await;
    js_sys::Reflect::get(&answer, &"token".into())
        .unwrap()
        .as_string()
        .unwrap()
}

pub async fn token_for(user: &str) -> String {
    token_with(&format!(r#"{{"user":"{user}"}}"#)).await
}

/// Quick retries and every progress event delivered, for `url` in `protocol`.
pub fn config(url: &str, protocol: &str) -> Config {
    let mut config = Config::new(url);
    config.protocol = DialectConfig::parse(protocol).expect("the README's protocol");
    config.max_progress_per_second = 0;
    config.use_polling = false;
    config.reconnect_initial_delay = Duration::from_millis(20);
    config.reconnect_max_delay = Duration::from_millis(60);
    config
}

/// A client of `config` with `token`, and its own outbox storage key.
pub fn client(config: Config, token: Option<&str>, recorder: &Rc<Recorder>) -> Driver {
    let mut config = config;
    config.auth = token.is_some();
    let token = token.map(|token| {
        TokenSource::from_option(JsValue::from_str(token))
            .expect("a token")
            .expect("a token source")
    });
    Driver::new(config, recorder.clone(), token, Some(&unique("outbox")))
}

pub fn progress_percentages(recorder: &Recorder) -> Vec<f64> {
    recorder
        .job_events()
        .into_iter()
        .filter_map(|(_, event)| match event {
            JobEvent::Generation(GenerationEvent::Progress(progress)) => Some(progress.percentage),
            _ => None,
        })
        .collect()
}

pub fn names(recorder: &Recorder) -> Vec<&'static str> {
    recorder
        .job_events()
        .iter()
        .map(|(_, event)| event.name())
        .collect()
}

pub fn seqs_are_contiguous(recorder: &Recorder) -> bool {
    let seqs: Vec<u64> = recorder.job_events().iter().map(|(seq, _)| *seq).collect();
    seqs == (1..=seqs.len() as u64).collect::<Vec<_>>()
}

/// The app-channel events delivered so far, as (event name, data).
pub fn channel_events(recorder: &Recorder) -> Vec<(String, String)> {
    recorder
        .events
        .borrow()
        .iter()
        .filter_map(|event| match event {
            Event::Channel(delivery) => {
                Some((delivery.event.clone(), delivery.data.as_str().to_owned()))
            }
            _ => None,
        })
        .collect()
}

/// A user and a workspace of their own, and a client of them on the Socket.IO server named
/// `server` in `JOBSOCKET_TEST_DIALECTS`, with story-16-15's configuration, listening to
/// `approval.created` (the workspace's room carries it by name).
pub struct WorkspaceClient {
    pub user: String,
    pub workspace: String,
    pub recorder: Rc<Recorder>,
    pub driver: Driver,
}

impl WorkspaceClient {
    /// The client, once its session is open.
    pub async fn open(server: &str) -> WorkspaceClient {
        let (user, workspace) = (unique("u"), unique("w"));
        let token = token_with(&format!(r#"{{"user":"{user}","workspace":"{workspace}"}}"#)).await;
        let recorder = Rc::new(Recorder::default());
        let driver = client(
            config(&address(server), &readme_config("story1615")),
            Some(&token),
            &recorder,
        );
        driver.command(|core, now| core.listen(now, "approval.created"));
        recorder
            .wait_for(&driver, 10_000, "the session", |_| {
                driver.state().status == Status::Open
            })
            .await;
        WorkspaceClient {
            user,
            workspace,
            recorder,
            driver,
        }
    }

    /// The body of a control API's `/socket.io/emit` that sends approval `n` to the workspace.
    pub fn approval(&self, n: u32) -> String {
        format!(
            r#"{{"room":"workspace:{}","event":"approval.created","data":{{"n":{n}}}}}"#,
            self.workspace
        )
    }

    /// Waits until `count` approvals (or more) have been delivered.
    pub async fn wait_approvals(&self, count: usize) {
        let what = format!("{count} approvals");
        self.recorder
            .wait_for(&self.driver, 10_000, &what, |r| {
                channel_events(r).len() >= count
            })
            .await;
    }

    /// The data of every approval delivered, in order.
    pub fn approvals(&self) -> Vec<String> {
        channel_events(&self.recorder)
            .into_iter()
            .map(|(_, data)| data)
            .collect()
    }

    pub fn close(&self) {
        self.driver.command(|core, now| core.close(now));
    }
}

/// The data of approvals `numbers`, as `WorkspaceClient::approval` sends them.
pub fn approvals(numbers: std::ops::RangeInclusive<u32>) -> Vec<String> {
    numbers.map(|n| format!(r#"{{"n":{n}}}"#)).collect()
}
