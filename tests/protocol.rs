//! Wire protocol v1: every frame round-trips through its encoder and decoder, and no input,
//! however mangled, makes the decoder panic.

mod support;

use support::{XorShift, mangled};

use jobsocket::core::events::{
    ClipCompleted, EncodingProgress, JobFailure, JobResult, JobStatus, Progress, Queued,
    StatusChange,
};
use jobsocket::core::{
    Channel, ClientFrame, CompositionEvent, DecodeError, GenerationEvent, JobEvent, RawJson,
    ServerFrame,
};

fn result() -> JobResult {
    JobResult {
        video_url: "/videos/gen_1.mp4".to_owned(),
        thumbnail_url: "/thumbnails/gen_1/1.svg".to_owned(),
        duration: 12.5,
    }
}

fn failure() -> JobFailure {
    JobFailure {
        code: "generation_failed".to_owned(),
        message: "the model ran out of memory".to_owned(),
        recoverable: false,
    }
}

fn every_event() -> Vec<JobEvent> {
    vec![
        JobEvent::Generation(GenerationEvent::Queued(Queued { position: 3 })),
        JobEvent::Generation(GenerationEvent::Progress(Progress {
            step: "rendering".to_owned(),
            clip_number: 2,
            total_clips: 4,
            percentage: 37.5,
            message: "Rendering clip 2 of 4".to_owned(),
        })),
        JobEvent::Generation(GenerationEvent::ClipCompleted(ClipCompleted {
            clip_id: "gen_1_clip_2".to_owned(),
            thumbnail_url: "/thumbnails/gen_1/2.svg".to_owned(),
            duration: 4.0,
        })),
        JobEvent::Generation(GenerationEvent::StatusChange(StatusChange {
            old_status: JobStatus::Queued,
            new_status: JobStatus::Processing,
            message: "started".to_owned(),
        })),
        JobEvent::Generation(GenerationEvent::Completed(result())),
        JobEvent::Generation(GenerationEvent::Error(failure())),
        JobEvent::Composition(CompositionEvent::EncodingProgress(EncodingProgress {
            percentage: 50.0,
            frames_processed: 120,
            total_frames: 240,
            estimated_remaining: 2.5,
        })),
        JobEvent::Composition(CompositionEvent::Completed(result())),
        JobEvent::Composition(CompositionEvent::Error(failure())),
    ]
}

fn every_server_frame() -> Vec<ServerFrame> {
    let mut frames = vec![
        ServerFrame::Connected {
            client_id: "c_1".to_owned(),
            heartbeat_ms: 30_000,
        },
        ServerFrame::Subscribed {
            channel: Channel::Composition,
            id: "comp_1".to_owned(),
            seq: 7,
        },
        ServerFrame::Pong { t: 1234 },
        ServerFrame::Ack {
            id: "m_1".to_owned(),
        },
        ServerFrame::Error {
            code: "unknown_job".to_owned(),
            message: "no job gen_9".to_owned(),
            job: Some((Channel::Generation, "gen_9".to_owned())),
        },
        ServerFrame::Error {
            code: "bad_frame".to_owned(),
            message: "not a client frame".to_owned(),
            job: None,
        },
    ];
    frames.extend(
        every_event()
            .into_iter()
            .enumerate()
            .map(|(index, event)| ServerFrame::Event {
                id: "job_1".to_owned(),
                seq: index as u64 + 1,
                event,
            }),
    );
    frames
}

#[test]
fn every_server_frame_round_trips() {
    for frame in every_server_frame() {
        let text = frame.encode();
        assert_eq!(ServerFrame::decode(&text), Ok(frame), "{text}");
    }
}

#[test]
fn a_batch_of_every_frame_round_trips_in_order() {
    let frames = every_server_frame();
    let decoded: Vec<ServerFrame> = ServerFrame::decode_all(&ServerFrame::encode_batch(&frames))
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("a batch of valid frames decodes");
    assert_eq!(decoded, frames);
}

#[test]
fn every_client_frame_round_trips() {
    let frames = vec![
        ClientFrame::Subscribe {
            channel: Channel::Generation,
            id: "gen_1".to_owned(),
            since: Some(4),
        },
        ClientFrame::Subscribe {
            channel: Channel::Composition,
            id: "comp_1".to_owned(),
            since: None,
        },
        ClientFrame::Unsubscribe {
            channel: Channel::Generation,
            id: "gen_1".to_owned(),
        },
        ClientFrame::Ping { t: 99 },
        ClientFrame::Message {
            id: "m_1".to_owned(),
            event: "cancel".to_owned(),
            data: RawJson::new(r#"{"job":"gen_1"}"#).unwrap(),
        },
    ];
    for frame in frames {
        let text = frame.encode();
        let decoded = ClientFrame::decode(&text).expect("a valid frame");
        assert_eq!(decoded, frame, "{text}");
    }
}

#[test]
fn client_frames_have_the_documented_shape() {
    let subscribe = ClientFrame::Subscribe {
        channel: Channel::Generation,
        id: "gen_1".to_owned(),
        since: None,
    };
    assert_eq!(
        subscribe.encode(),
        r#"{"type":"subscribe","channel":"generation","id":"gen_1"}"#
    );
    assert_eq!(
        ClientFrame::Ping { t: 5 }.encode(),
        r#"{"type":"ping","t":5}"#
    );
}

#[test]
fn an_event_frame_has_the_documented_shape() {
    let frame = ServerFrame::Event {
        id: "gen_1".to_owned(),
        seq: 1,
        event: JobEvent::Generation(GenerationEvent::Queued(Queued { position: 1 })),
    };
    assert_eq!(
        frame.to_json(),
        serde_json::json!({
            "type": "event", "channel": "generation", "id": "gen_1", "seq": 1,
            "event": "queued", "data": {"position": 1}
        })
    );
}

#[test]
fn unknown_fields_are_ignored_for_forward_compatibility() {
    let text = r#"{"type":"pong","t":1,"region":"eu"}"#;
    assert_eq!(ServerFrame::decode(text), Ok(ServerFrame::Pong { t: 1 }));
}

#[test]
fn an_event_name_of_the_other_channel_is_unknown() {
    let text = r#"{"type":"event","channel":"composition","id":"c","seq":1,"event":"queued","data":{"position":1}}"#;
    assert_eq!(
        ServerFrame::decode(text),
        Err(DecodeError::UnknownEvent {
            channel: Channel::Composition,
            event: "queued".to_owned()
        })
    );
}

#[test]
fn a_non_object_frame_is_malformed() {
    for text in ["42", "\"event\"", "null", "", "[", "[1,2"] {
        let decoded = ServerFrame::decode_all(text);
        assert!(
            decoded
                .iter()
                .all(|item| matches!(item, Err(DecodeError::Malformed(_)))),
            "{text}: {decoded:?}"
        );
    }
}

#[test]
fn no_mangled_frame_makes_the_decoder_panic() {
    let seeds: Vec<Vec<u8>> = every_server_frame()
        .iter()
        .map(|frame| frame.encode().into_bytes())
        .chain([ServerFrame::encode_batch(&every_server_frame()).into_bytes()])
        .collect();
    let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let text = mangled(&mut random, &seeds, 6);
        let _ = ServerFrame::decode_all(&text);
    }
}

/// The examples of `docs/PROTOCOL.md`, so the document cannot drift from the code.
fn protocol_doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md"))
        .expect("docs/PROTOCOL.md exists")
}

#[test]
fn every_json_example_in_the_protocol_doc_decodes() {
    use jobsocket::core::snapshot::{CompositionSnapshot, GenerationSnapshot};
    let doc = protocol_doc();
    let blocks: Vec<&str> = doc
        .split("```json")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap_or_default().trim())
        .collect();
    assert!(blocks.len() >= 13, "found only {} examples", blocks.len());
    for block in blocks {
        let value: serde_json::Value =
            serde_json::from_str(block).unwrap_or_else(|e| panic!("{block}: {e}"));
        let kind = value.get("type").and_then(|kind| kind.as_str());
        match kind {
            Some("subscribe" | "unsubscribe" | "ping" | "message" | "auth") => {
                let frame = ClientFrame::decode(block).unwrap_or_else(|e| panic!("{block}: {e}"));
                let again: serde_json::Value = serde_json::from_str(&frame.encode()).unwrap();
                assert_eq!(again, value, "{block}");
            }
            Some(_) => {
                let frame = ServerFrame::decode(block).unwrap_or_else(|e| panic!("{block}: {e}"));
                assert_eq!(frame.to_json(), value, "{block}");
            }
            None if value.is_array() => {
                for decoded in ServerFrame::decode_all(block) {
                    decoded.unwrap_or_else(|e| panic!("{block}: {e}"));
                }
            }
            None if value.get("clips").is_some() => {
                serde_json::from_str::<GenerationSnapshot>(block)
                    .unwrap_or_else(|e| panic!("{block}: {e}"));
            }
            None => {
                serde_json::from_str::<CompositionSnapshot>(block)
                    .unwrap_or_else(|e| panic!("{block}: {e}"));
            }
        }
    }
}

#[test]
fn every_event_example_in_the_protocol_doc_decodes_on_its_channel() {
    let doc = protocol_doc();
    let mut channel = None;
    let mut checked = 0;
    for line in doc.lines() {
        if line.starts_with("### Generation") {
            channel = Some(Channel::Generation);
        } else if line.starts_with("### Composition") {
            channel = Some(Channel::Composition);
        } else if line.starts_with("## ") {
            channel = None;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(channel), [_, name, _, example, _]) = (channel, cells.as_slice()) else {
            continue;
        };
        let (Some(name), Some(example)) = (
            name.strip_prefix('`').and_then(|n| n.strip_suffix('`')),
            example.strip_prefix('`').and_then(|e| e.strip_suffix('`')),
        ) else {
            continue;
        };
        JobEvent::decode(channel, name, example)
            .unwrap_or_else(|e| panic!("{channel} {name}: {e}"));
        checked += 1;
    }
    assert_eq!(checked, 9, "every event of both channels has an example");
}
