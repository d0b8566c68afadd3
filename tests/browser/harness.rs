//! What the browser tests share: the reference server's address, a recorder of everything the
//! driver delivers (with failure reports that show the client's state and recent events), each
//! test's fault scope on the server, and small readers of what was recorded.

use std::cell::RefCell;
use std::rc::Rc;

use jobsocket::core::{Config, Event, GenerationEvent, JobEvent, StateReason, Status};
use jobsocket::web::{Driver, EventSink, SourceFrame};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

pub fn server() -> &'static str {
    match option_env!("JOBSOCKET_TEST_SERVER") {
        Some(address) => address,
        None => panic!("JOBSOCKET_TEST_SERVER names the reference server; run `make test`"),
    }
}

/// The reference server's admin key, which `/admin/` routes want in `x-admin-key`.
fn admin_key() -> &'static str {
    match option_env!("JOBSOCKET_TEST_ADMIN_KEY") {
        Some(key) => key,
        None => panic!("JOBSOCKET_TEST_ADMIN_KEY holds the admin key; run `make test`"),
    }
}

/// Collects every event the driver delivers.
#[derive(Default)]
pub struct Recorder {
    pub events: RefCell<Vec<Event>>,
}

impl EventSink for Recorder {
    fn deliver(&self, event: Event, _source: Option<&SourceFrame>) {
        self.events.borrow_mut().push(event);
    }
}

impl Recorder {
    pub fn job_events(&self) -> Vec<(u64, JobEvent)> {
        self.events
            .borrow()
            .iter()
            .filter_map(|event| match event {
                Event::Job(delivery) => Some((delivery.seq, delivery.event.clone())),
                _ => None,
            })
            .collect()
    }

    /// Waits (in short real steps, up to `limit_ms`) until `done` holds; false if it never did.
    pub async fn wait_until(&self, limit_ms: u32, done: impl Fn(&Recorder) -> bool) -> bool {
        let mut waited = 0;
        while !done(self) {
            if waited >= limit_ms {
                return false;
            }
            gloo_timers::future::TimeoutFuture::new(10).await;
            waited += 10;
        }
        true
    }

    /// Waits until `done` holds. A test that gives up panics with what it waited for, the
    /// client's state and its recent events, so a failure in CI is understood from the log.
    pub async fn wait_for(
        &self,
        driver: &Driver,
        limit_ms: u32,
        what: &str,
        done: impl Fn(&Recorder) -> bool,
    ) {
        if !self.wait_until(limit_ms, done).await {
            let headline = format!("gave up after {limit_ms} ms waiting for {what}");
            panic!("{}", self.report(driver, &headline));
        }
    }

    /// `headline`, the client's state and its last events, for a failure message.
    pub fn report(&self, driver: &Driver, headline: &str) -> String {
        const LAST: usize = 40;
        let events = self.events.borrow();
        let skipped = events.len().saturating_sub(LAST);
        let mut report = format!(
            "{headline}\nclient state: {:?}\nlast {} of {} events:",
            driver.state(),
            events.len() - skipped,
            events.len()
        );
        for event in &events[skipped..] {
            report.push_str(&format!("\n  {event:?}"));
        }
        report
    }
}

/// One test's fault scope on the reference server, with a random part so that reruns and the
/// other browser never share it.
pub struct Scope {
    name: String,
}

impl Scope {
    /// `label` names the test in the server's scope (at most 40 bytes).
    pub fn new(label: &str) -> Scope {
        let random = (js_sys::Math::random() * 1e15) as u64;
        Scope {
            name: format!("{label}-{random:x}"),
        }
    }

    /// The WebSocket URL of this scope.
    pub fn ws_url(&self) -> String {
        format!(
            "{}/ws?scope={}",
            server().replacen("http", "ws", 1),
            self.name
        )
    }

    /// A client of this scope: its socket, its polls and its HTTP messages name the scope. Every event is
    /// counted: progress coalescing is off.
    pub fn config(&self) -> Config {
        let mut config = Config::new(self.ws_url());
        config.generation_url =
            format!("{}/api/v1/generations/{{id}}?scope={}", server(), self.name);
        config.composition_url = format!(
            "{}/api/v1/compositions/{{id}}?scope={}",
            server(),
            self.name
        );
        config.messages_url = Some(format!("{}/api/v1/messages?scope={}", server(), self.name));
        config.max_progress_per_second = 0;
        // One client's behaviour, from its construction on: a shared client leads only once
        // the browser grants its lock, a moment later (sharing has tests of its own).
        config.share_across_tabs = false;
        config
    }

    /// A client whose retries and polls are quick, for the outbox and fallback tests.
    pub fn quick_config(&self) -> Config {
        let mut config = self.config();
        config.reconnect_initial_delay = std::time::Duration::from_millis(20);
        config.reconnect_max_delay = std::time::Duration::from_millis(60);
        config.probe_max_delay = std::time::Duration::from_millis(100);
        config.poll_interval = std::time::Duration::from_millis(100);
        config.use_polling = false;
        // Message ids are unique per client without help: the driver keys them from
        // crypto.getRandomValues.
        config
    }

    pub fn client(&self, recorder: &Rc<Recorder>) -> Driver {
        Driver::new(self.config(), recorder.clone(), None, None)
    }

    /// The admin API of the reference server (started with `--admin`), in this scope.
    pub async fn admin(&self, path: &str, body: &str) {
        let response = post(&format!("/admin/{path}?scope={}", self.name), body).await;
        assert_eq!(response.status(), 200, "POST /admin/{path}");
    }

    /// A counter of the reference server's `/admin/stats` for this scope.
    pub async fn stat(&self, name: &str) -> f64 {
        let response = post(&format!("/admin/stats?scope={}", self.name), "{}").await;
        let json = JsFuture::from(response.json().unwrap()).await.unwrap();
        js_sys::Reflect::get(&json, &name.into())
            .unwrap()
            .as_f64()
            .expect("a counter")
    }
}

/// POSTs a JSON body to the reference server and returns the response; an `/admin/` path
/// carries the admin key.
pub async fn post(path: &str, body: &str) -> web_sys::Response {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    let headers = web_sys::Headers::new().unwrap();
    headers.set("content-type", "application/json").unwrap();
    if path.starts_with("/admin/") {
        headers.set("x-admin-key", admin_key()).unwrap();
    }
    init.set_headers(&headers);
    let request =
        web_sys::Request::new_with_str_and_init(&format!("{}{path}", server()), &init).unwrap();
    let window = web_sys::window().unwrap();
    JsFuture::from(window.fetch_with_request(&request))
        .await
        .expect("the reference server answers")
        .dyn_into()
        .unwrap()
}

/// Starts a job with a POST to the server's API and returns its id.
pub async fn start_job(path: &str, body: &str) -> String {
    let response = post(path, body).await;
    assert_eq!(response.status(), 201, "POST {path}");
    let json = JsFuture::from(response.json().unwrap()).await.unwrap();
    js_sys::Reflect::get(&json, &"id".into())
        .unwrap()
        .as_string()
        .expect("the job id")
}

pub fn count_errors(recorder: &Recorder, code: &str) -> usize {
    recorder
        .events
        .borrow()
        .iter()
        .filter(|event| matches!(event, Event::Error(error) if error.code() == code))
        .count()
}

pub fn opened_count(recorder: &Recorder) -> usize {
    recorder
        .events
        .borrow()
        .iter()
        .filter(|event| matches!(event, Event::StateChanged(change) if change.to == Status::Open))
        .count()
}

pub fn is_terminal(recorder: &Recorder) -> bool {
    recorder
        .job_events()
        .last()
        .is_some_and(|(_, event)| event.is_terminal())
}

/// The job events of `job` delivered so far, as (seq, name).
pub fn sequence_of(recorder: &Recorder, job: &str) -> Vec<(u64, &'static str)> {
    recorder
        .events
        .borrow()
        .iter()
        .filter_map(|event| match event {
            Event::Job(delivery) if delivery.job_id == job => {
                Some((delivery.seq, delivery.event.name()))
            }
            _ => None,
        })
        .collect()
}

/// Every status change announced, as (to, reason).
pub fn announced(recorder: &Recorder) -> Vec<(Status, StateReason)> {
    recorder
        .events
        .borrow()
        .iter()
        .filter_map(|event| match event {
            Event::StateChanged(change) => Some((change.to, change.reason)),
            _ => None,
        })
        .collect()
}

pub fn clip_ids(recorder: &Recorder) -> Vec<String> {
    recorder
        .job_events()
        .into_iter()
        .filter_map(|(_, event)| match event {
            JobEvent::Generation(GenerationEvent::ClipCompleted(clip)) => Some(clip.clip_id),
            _ => None,
        })
        .collect()
}
