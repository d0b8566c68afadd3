//! Issue 12's client findings, each shown as an attack first: what another client, another
//! user of the same browser, or a hostile page could do, and that it no longer works.

mod support;

use std::time::Duration;

use jobsocket::core::outbox::DropReason;
use jobsocket::core::{Channel, ClientFrame, Config, Event, RawJson};
use support::Scenario;

/// An attacker who sees message ids and assumes they come from SplitMix64 (what the client
/// used before): it inverts the output mix to recover the generator's state, then predicts the
/// next outputs.
mod splitmix_attacker {
    const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

    fn inverse_of_odd(factor: u64) -> u64 {
        // Newton's iteration doubles the correct low bits each step: 5 steps reach 64.
        let mut inverse = factor;
        for _ in 0..5 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(factor.wrapping_mul(inverse)));
        }
        inverse
    }

    fn undo_xor_shift(value: u64, shift: u32) -> u64 {
        let mut undone = value;
        for _ in 0..(64 / shift + 1) {
            undone = value ^ (undone >> shift);
        }
        undone
    }

    fn mix(state: u64) -> u64 {
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unmix(output: u64) -> u64 {
        let mut z = undo_xor_shift(output, 31);
        z = undo_xor_shift(z.wrapping_mul(inverse_of_odd(0x94d0_49bb_1331_11eb)), 27);
        undo_xor_shift(z.wrapping_mul(inverse_of_odd(0xbf58_476d_1ce4_e5b9)), 30)
    }

    /// The value behind an id written as 16 hex digits, least significant digit first (the old
    /// format); `None` for any other id.
    fn value_of(id: &str) -> Option<u64> {
        let hex = id.strip_prefix("m_")?;
        if hex.len() != 16 {
            return None;
        }
        hex.chars().rev().try_fold(0u64, |value, digit| {
            Some((value << 4) | u64::from(digit.to_digit(16)?))
        })
    }

    /// The ids the attacker expects to follow `seen`, the generator having moved on by one to
    /// `draws` outputs in between (request ids, jitter).
    pub fn predictions(seen: &str, draws: u64) -> Vec<String> {
        let Some(value) = value_of(seen) else {
            return Vec::new();
        };
        let state = unmix(value);
        assert_eq!(mix(state), value, "the inversion is exact");
        (1..=draws)
            .map(|step| {
                let mut next = mix(state.wrapping_add(GAMMA.wrapping_mul(step)));
                let mut id = String::from("m_");
                for _ in 0..16 {
                    id.push(char::from_digit((next & 0xf) as u32, 16).unwrap());
                    next >>= 4;
                }
                id
            })
            .collect()
    }
}

#[test]
fn a_message_id_seen_by_another_party_does_not_predict_the_next_one() {
    let mut scenario = Scenario::new();
    let mut ids = Vec::new();
    for n in 0..2 {
        scenario.act(|client, now| {
            ids.push(client.send(now, "note", RawJson::new(format!("{n}")).unwrap()));
        });
    }
    let predicted = splitmix_attacker::predictions(&ids[0], 8);
    assert!(
        !predicted.contains(&ids[1]),
        "an attacker predicted the next message id {} from {}",
        ids[1],
        ids[0]
    );
    // 128 bits of a keyed function, not 64 bits of a public one.
    assert_eq!(ids[1].len(), "m_".len() + 32, "{}", ids[1]);
}

#[test]
fn job_ids_that_are_dot_segments_never_reach_a_status_url() {
    let mut config = support::config();
    config.use_websocket = false;
    let mut scenario = Scenario::with_config(config);
    for id in [".", ".."] {
        assert!(jobsocket::core::job_id_problem(id).is_some(), "{id:?}");
        scenario.subscribe(Channel::Generation, id);
    }
    scenario.advance(Duration::from_secs(60));
    assert!(
        scenario.server.polls.is_empty(),
        "polled {:?}",
        scenario.server.polls
    );
    // Dots inside an id are ordinary characters.
    assert_eq!(jobsocket::core::job_id_problem("..."), None);
    scenario.subscribe(Channel::Generation, "v1.2");
    assert_eq!(
        scenario.server.polled_urls,
        ["http://jobs.test/api/v1/generations/v1.2"]
    );
}

#[test]
fn a_scheme_in_capitals_still_polls_the_servers_origin() {
    let url = jobsocket::core::websocket_url("WSS://Jobs.test:8443/ws").expect("a valid URL");
    assert_eq!(url, "wss://Jobs.test:8443/ws");
    let mut config = Config::new(url);
    config.use_websocket = false;
    let mut scenario = Scenario::with_config(config);
    scenario.subscribe(Channel::Generation, "gen_1");
    assert_eq!(
        scenario.server.polled_urls,
        ["https://Jobs.test:8443/api/v1/generations/gen_1"]
    );
    assert_eq!(
        jobsocket::core::websocket_url("Http://a/ws").as_deref(),
        Ok("ws://a/ws")
    );
}

#[test]
fn a_plain_socket_from_an_https_page_is_refused_except_to_this_machine() {
    use jobsocket::core::blocked_as_mixed_content as blocked;
    assert!(blocked("ws://jobs.example/ws", "https:"));
    assert!(blocked("ws://user@jobs.example:80/ws", "https:"));
    // A name that merely starts like a loopback address is not one.
    assert!(blocked("ws://127.example.com/ws", "https:"));
    assert!(!blocked("ws://127.1.2.3:9/ws", "https:"));
    assert!(!blocked("wss://jobs.example/ws", "https:"));
    assert!(!blocked("ws://jobs.example/ws", "http:"));
    for loopback in [
        "ws://localhost:8787/ws",
        "ws://127.0.0.1/ws",
        "ws://[::1]:1/ws",
        "ws://app.localhost/ws",
    ] {
        assert!(!blocked(loopback, "https:"), "{loopback}");
    }
}

#[test]
fn urls_in_error_text_lose_their_query_and_fragment() {
    use jobsocket::core::hide_url_queries as hide;
    assert_eq!(
        hide(
            "Failed to construct 'WebSocket': The URL 'wss://a.b/ws?token=s3cret&requestId=1' is invalid."
        ),
        "Failed to construct 'WebSocket': The URL 'wss://a.b/ws?…' is invalid."
    );
    assert_eq!(
        hide("GET https://a.b/api/v1/generations/g?token=x failed; ws://c/#t=1 too"),
        "GET https://a.b/api/v1/generations/g?… failed; ws://c/?… too"
    );
    assert_eq!(hide("no url here: a?b=c"), "no url here: a?b=c");
    assert_eq!(hide("ends with ://"), "ends with ://");
}

#[test]
fn a_browser_message_quoting_the_socket_url_reaches_the_app_without_the_token() {
    let mut config = support::config();
    config.auth = true;
    let mut scenario = Scenario::with_config(config);
    scenario.connect();
    scenario.give_token(Ok("s3cret"));
    let url = scenario.pending_url().to_owned();
    assert!(url.contains("token=s3cret"), "{url}");
    let socket = scenario.refuse_with(&format!("The URL '{url}' is invalid."));
    let _ = socket;
    let events = scenario.take_events();
    let reported: Vec<String> = events
        .iter()
        .filter_map(|event| match event {
            Event::Error(error) => Some(format!("{error:?}")),
            _ => None,
        })
        .collect();
    assert!(!reported.is_empty());
    assert!(
        reported.iter().all(|text| !text.contains("s3cret")),
        "{reported:?}"
    );
    let last = format!("{:?}", scenario.client.state().last_error);
    assert!(
        last.contains("ws://jobs.test/ws?…") && !last.contains("s3cret"),
        "{last}"
    );
    // A server's close reason that quotes the token outside any URL.
    let wait = scenario.next_wake_in().expect("a retry is scheduled");
    scenario.advance(wait);
    scenario.give_token(Ok("s3cret"));
    scenario.refuse_with("GET /ws?token=s3cret refused: token s3cret expired");
    let last = format!("{:?}", scenario.client.state().last_error);
    assert!(!last.contains("s3cret"), "{last}");
    assert!(last.contains("token … expired"), "{last}");
}

#[test]
fn a_url_with_a_fragment_is_refused_before_a_token_could_land_in_it() {
    let refused = jobsocket::core::websocket_url("wss://a.b/ws#frag").unwrap_err();
    assert!(refused.contains("#fragment"), "{refused}");
}

#[test]
fn the_token_can_travel_as_the_first_frame_and_never_in_the_url() {
    let mut config = support::config();
    config.auth = true;
    config.token_in_first_frame = true;
    let mut scenario = Scenario::with_config(config);
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.give_token(Ok("s3cret"));
    assert!(
        !scenario.pending_url().contains("s3cret"),
        "{}",
        scenario.pending_url()
    );
    assert!(scenario.pending_url().contains("requestId="));
    scenario.accept();
    let received = scenario.take_received();
    assert_eq!(
        received.first(),
        Some(&ClientFrame::Auth {
            token: "s3cret".to_owned()
        }),
        "{received:?}"
    );
    assert!(
        matches!(received.get(1), Some(ClientFrame::Subscribe { .. })),
        "{received:?}"
    );
    assert_eq!(
        received
            .iter()
            .filter(|frame| matches!(frame, ClientFrame::Auth { .. }))
            .count(),
        1
    );
}

/// A stored outbox of `count` messages, as another page (or anyone able to write this origin's
/// storage) could have left it.
fn stored_outbox(count: usize) -> String {
    let messages: Vec<String> = (0..count)
        .map(|n| {
            format!(r#"{{"id":"m_{n}","event":"note","data":{n},"createdAt":1000,"sends":0}}"#)
        })
        .collect();
    format!(r#"{{"v":1,"messages":[{}]}}"#, messages.join(","))
}

#[test]
fn a_stored_outbox_beyond_the_limit_keeps_only_the_newest_messages() {
    let mut config = support::config();
    config.outbox_max_messages = 3;
    let mut scenario = Scenario::with_config(config);
    let stored = stored_outbox(5);
    scenario.act(|client, now| client.restore_outbox(now, &stored));
    assert_eq!(scenario.client.state().outbox_size, 3);
    let events = scenario.take_events();
    assert_eq!(
        support::outbox_drops(&events),
        [
            ("m_0".to_owned(), DropReason::Overflow),
            ("m_1".to_owned(), DropReason::Overflow)
        ]
    );
    scenario.accept();
    let sent: Vec<String> = scenario
        .take_received()
        .into_iter()
        .filter_map(|frame| match frame {
            ClientFrame::Message { id, .. } => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(sent, ["m_2", "m_3", "m_4"]);
}

#[test]
fn clearing_the_outbox_at_sign_out_leaves_nothing_for_the_next_user() {
    let mut scenario = Scenario::new();
    let stored = stored_outbox(2);
    scenario.act(|client, now| client.restore_outbox(now, &stored));
    scenario.act(|client, now| client.clear_outbox(now));
    let events = scenario.take_events();
    assert_eq!(
        support::outbox_drops(&events),
        [
            ("m_0".to_owned(), DropReason::Cleared),
            ("m_1".to_owned(), DropReason::Cleared)
        ]
    );
    assert_eq!(scenario.client.state().outbox_size, 0);
    assert_eq!(
        scenario.storage.outbox.as_deref(),
        Some(r#"{"v":1,"messages":[]}"#),
        "the stored copy is emptied too"
    );
    // The next user's client on this storage restores nothing.
    let mut next = Scenario::new();
    let left = scenario.storage.outbox.clone().unwrap_or_default();
    next.act(|client, now| client.restore_outbox(now, &left));
    next.connect();
    next.accept();
    assert!(
        !next
            .take_received()
            .iter()
            .any(|frame| matches!(frame, ClientFrame::Message { .. }))
    );
}
