//! Scenarios of the offline outbox, with fake time and fake storage: queued while
//! disconnected, delivered once and in order, resent on a new socket, bounded, expired,
//! persisted and restored, and surviving storage that does not cooperate.

mod support;

use std::time::Duration;

use jobsocket::core::outbox::DropReason;
use jobsocket::core::{ClientError, Event, RawJson, ServerFrame, SocketId, Status};
use support::{Scenario, connected, sent_ids};

fn data(n: u32) -> RawJson {
    RawJson::new(format!(r#"{{"n":{n}}}"#)).unwrap()
}

fn send(scenario: &mut Scenario, n: u32) -> String {
    let mut id = String::new();
    scenario.act(|client, now| id = client.send(now, "note", data(n)));
    id
}

fn ack(scenario: &mut Scenario, socket: SocketId, id: &str) {
    scenario.server_sends(socket, &ServerFrame::Ack { id: id.to_owned() });
}

/// Opens the pending socket and greets; returns it.
fn accept(scenario: &mut Scenario) -> SocketId {
    let socket = scenario.accept();
    scenario.server_sends(socket, &connected());
    socket
}

#[test]
fn messages_sent_while_disconnected_are_queued_then_sent_in_order_on_open() {
    let mut scenario = Scenario::new();
    let ids: Vec<String> = (1..=3).map(|n| send(&mut scenario, n)).collect();
    assert_eq!(
        scenario.client.status(),
        Status::Connecting,
        "sending connects"
    );
    assert!(scenario.take_received().is_empty());
    assert_eq!(scenario.client.state().outbox_size, 3);
    accept(&mut scenario);
    assert_eq!(sent_ids(&scenario.take_received()), ids);
}

#[test]
fn message_ids_are_unique() {
    let mut scenario = Scenario::new();
    let ids: Vec<String> = (0..200).map(|n| send(&mut scenario, n)).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
}

#[test]
fn an_open_connection_sends_at_once_and_the_ack_removes_the_message() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    let id = send(&mut scenario, 1);
    assert_eq!(sent_ids(&scenario.take_received()), vec![id.clone()]);
    ack(&mut scenario, socket, &id);
    assert_eq!(scenario.client.state().outbox_size, 0);
    assert_eq!(
        scenario.storage.outbox.as_deref(),
        Some(r#"{"v":1,"messages":[]}"#)
    );
}

#[test]
fn the_outbox_is_persisted_after_every_change_without_any_secret() {
    let mut config = support::config();
    config.auth = true;
    let mut scenario = Scenario::with_config(config);
    send(&mut scenario, 7);
    let stored = scenario.storage.outbox.clone().expect("persisted");
    assert!(
        stored.contains(r#""event":"note","data":{"n":7}"#),
        "{stored}"
    );
    scenario.give_token(Ok("secret-token"));
    let socket = accept(&mut scenario);
    assert!(
        !scenario
            .storage
            .outbox
            .clone()
            .unwrap()
            .contains("secret-token"),
        "the token is never stored"
    );
    let _ = socket;
}

#[test]
fn an_unacked_message_is_sent_again_on_the_next_socket_and_counted() {
    let mut scenario = Scenario::new();
    let first = scenario.open();
    let id = send(&mut scenario, 1);
    scenario.take_received();
    scenario.socket_closes(first, 1006, "");
    scenario.advance(Duration::from_secs(1));
    let second = accept(&mut scenario);
    assert_eq!(sent_ids(&scenario.take_received()), vec![id.clone()]);
    let stored = scenario.storage.outbox.clone().unwrap();
    assert!(stored.contains(r#""sends":2"#), "{stored}");
    ack(&mut scenario, second, &id);
    assert_eq!(scenario.client.state().outbox_size, 0);
}

#[test]
fn a_message_unacked_after_three_retries_is_dropped_and_reported() {
    let mut config = support::config();
    config.jitter = false;
    // Sockets only: the sockets dying young make the client poll, and it would post the
    // message over HTTP too (core_outbox_http.rs).
    config.messages_url = None;
    let mut scenario = Scenario::with_config(config);
    let id = send(&mut scenario, 1);
    for _ in 0..4 {
        let socket = accept(&mut scenario);
        assert_eq!(sent_ids(&scenario.take_received()), vec![id.clone()]);
        scenario.socket_closes(socket, 1006, "");
        let retry = scenario.next_wake_in().expect("a retry is scheduled");
        scenario.advance(retry);
    }
    accept(&mut scenario);
    assert!(sent_ids(&scenario.take_received()).is_empty());
    assert_eq!(
        support::outbox_drops(&scenario.take_events()),
        vec![(id, DropReason::RetriesExhausted)]
    );
}

#[test]
fn a_full_outbox_drops_its_oldest_message_and_reports_it() {
    let mut config = support::config();
    config.outbox_max_messages = 2;
    let mut scenario = Scenario::with_config(config);
    let first = send(&mut scenario, 1);
    send(&mut scenario, 2);
    send(&mut scenario, 3);
    assert_eq!(
        support::outbox_drops(&scenario.take_events()),
        vec![(first, DropReason::Overflow)]
    );
    assert_eq!(scenario.client.state().outbox_size, 2);
}

#[test]
fn a_message_older_than_its_time_to_live_is_dropped_and_reported() {
    let mut scenario = Scenario::new();
    let id = send(&mut scenario, 1);
    scenario.act(|client, now| client.handle_offline(now));
    scenario.take_events();
    scenario.advance(Duration::from_secs(3_599));
    assert_eq!(scenario.client.state().outbox_size, 1);
    scenario.advance(Duration::from_secs(1));
    assert_eq!(
        support::outbox_drops(&scenario.take_events()),
        vec![(id, DropReason::Expired)]
    );
    assert_eq!(scenario.client.state().outbox_size, 0);
}

#[test]
fn a_new_client_on_the_same_storage_delivers_the_queue_left_by_the_old_one() {
    let mut old = Scenario::new();
    let ids: Vec<String> = (1..=2).map(|n| send(&mut old, n)).collect();
    let stored = old.storage.outbox.clone().expect("persisted");

    // A page reload: a new client, the same storage.
    let mut new = Scenario::new();
    new.act(|client, now| client.restore_outbox(now, &stored));
    assert_eq!(
        new.client.status(),
        Status::Connecting,
        "it connects to deliver"
    );
    accept(&mut new);
    assert_eq!(sent_ids(&new.take_received()), ids);
}

#[test]
fn a_corrupt_stored_outbox_is_reported_and_replaced() {
    let mut scenario = Scenario::new();
    scenario.act(|client, now| client.restore_outbox(now, "}}garbage{{"));
    let events = scenario.take_events();
    assert!(matches!(
        events.as_slice(),
        [Event::Error(ClientError::StorageCorrupt { .. })]
    ));
    assert_eq!(
        scenario.storage.outbox.as_deref(),
        Some(r#"{"v":1,"messages":[]}"#)
    );
    assert_eq!(scenario.client.status(), Status::Idle);
    // The client still works.
    send(&mut scenario, 1);
    accept(&mut scenario);
    assert_eq!(sent_ids(&scenario.take_received()).len(), 1);
}

#[test]
fn an_outbox_of_another_version_is_discarded_as_corrupt() {
    let mut scenario = Scenario::new();
    scenario.act(|client, now| client.restore_outbox(now, r#"{"v":0,"messages":[]}"#));
    assert!(matches!(
        scenario.take_events().as_slice(),
        [Event::Error(ClientError::StorageCorrupt { reason })] if reason.contains("version")
    ));
}

#[test]
fn failing_storage_is_reported_once_and_the_outbox_keeps_working_in_memory() {
    let mut scenario = Scenario::new();
    scenario.storage.failing = true;
    let first = send(&mut scenario, 1);
    let second = send(&mut scenario, 2);
    let events = scenario.take_events();
    let degraded: Vec<&Event> = events
        .iter()
        .filter(|event| matches!(event, Event::Error(ClientError::StorageDegraded { .. })))
        .collect();
    assert_eq!(degraded.len(), 1);
    let socket = accept(&mut scenario);
    assert_eq!(
        sent_ids(&scenario.take_received()),
        vec![first.clone(), second]
    );
    ack(&mut scenario, socket, &first);
    assert_eq!(scenario.client.state().outbox_size, 1);
}

#[test]
fn the_idle_timeout_waits_for_the_outbox_to_drain() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    let id = send(&mut scenario, 1);
    scenario.advance(Duration::from_secs(600));
    assert_eq!(
        scenario.client.status(),
        Status::Open,
        "an unacked message keeps it open"
    );
    ack(&mut scenario, socket, &id);
    scenario.advance(Duration::from_secs(300));
    assert_eq!(scenario.client.status(), Status::Idle);
}

#[test]
fn a_duplicate_ack_changes_nothing() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    let id = send(&mut scenario, 1);
    ack(&mut scenario, socket, &id);
    let writes = scenario.storage.writes;
    ack(&mut scenario, socket, &id);
    assert_eq!(scenario.storage.writes, writes);
    assert!(scenario.take_events().is_empty());
}

#[test]
fn every_change_of_the_outbox_size_is_announced() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    let id = send(&mut scenario, 1);
    ack(&mut scenario, socket, &id);
    let sizes: Vec<usize> = scenario
        .take_events_with_spans()
        .into_iter()
        .filter_map(|event| match event {
            Event::OutboxSize(size) => Some(size),
            _ => None,
        })
        .collect();
    assert_eq!(sizes.first(), Some(&1));
    assert_eq!(sizes.last(), Some(&0));
}

#[test]
fn the_idle_timeout_runs_once_the_last_message_is_dropped_for_its_retries() {
    let mut config = support::config();
    config.jitter = false;
    // Sockets only: the sockets dying young make the client poll, and it would post the
    // message over HTTP too (core_outbox_http.rs).
    config.messages_url = None;
    config.idle_timeout = Some(Duration::from_secs(20));
    let mut scenario = Scenario::with_config(config);
    send(&mut scenario, 1);
    for _ in 0..4 {
        let socket = accept(&mut scenario);
        scenario.socket_closes(socket, 1006, "");
        let retry = scenario.next_wake_in().expect("a retry is scheduled");
        scenario.advance(retry);
    }
    accept(&mut scenario);
    assert_eq!(scenario.client.state().outbox_size, 0, "dropped");
    scenario.advance(Duration::from_secs(20));
    assert_eq!(scenario.client.status(), Status::Idle);
}
