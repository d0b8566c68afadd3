//! The REST status endpoints' snapshots decode by hand, without serde: the examples of the
//! protocol doc decode to what they say, missing optional parts are fine, anything malformed is
//! refused with a reason, and no mangled body makes decoding or catching up panic.

mod support;

use support::{XorShift, mangled};

use jobsocket::core::job_view::{JobView, Snapshot};
use jobsocket::core::snapshot::{
    CompositionProgressSnapshot, CompositionSnapshot, GenerationProgressSnapshot,
    GenerationSnapshot,
};
use jobsocket::core::{Channel, ClipCompleted, JobStatus};

/// The JSON examples of `docs/PROTOCOL.md`'s "REST status endpoints" section, each with the
/// channel of the `GET` line above it.
fn rest_examples() -> Vec<(Channel, String)> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md"))
        .expect("docs/PROTOCOL.md exists");
    let section = doc
        .split("## REST status endpoints")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the REST section");
    let mut channel = None;
    let mut examples = Vec::new();
    let mut block: Option<String> = None;
    for line in section.lines() {
        if line.starts_with("`GET /api/v1/generations/") {
            channel = Some(Channel::Generation);
        } else if line.starts_with("`GET /api/v1/compositions/") {
            channel = Some(Channel::Composition);
        } else if line == "```json" {
            block = Some(String::new());
        } else if line == "```" {
            let text = block.take().expect("a closing fence after an opening one");
            examples.push((channel.expect("a GET line before the example"), text));
        } else if let Some(text) = block.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    examples
}

#[test]
fn the_rest_examples_of_the_protocol_doc_decode() {
    let examples = rest_examples();
    assert_eq!(examples.len(), 2);
    let decoded: Vec<Snapshot> = examples
        .iter()
        .map(|(channel, body)| {
            Snapshot::decode(*channel, body).unwrap_or_else(|e| panic!("{body}: {e}"))
        })
        .collect();
    assert_eq!(
        decoded,
        vec![
            Snapshot::Generation(GenerationSnapshot {
                id: "gen_1".to_owned(),
                status: JobStatus::Processing,
                progress: GenerationProgressSnapshot {
                    percentage: 41.7,
                    step: "rendering".to_owned(),
                    clip_number: 2,
                    total_clips: 3,
                    message: "Rendering clip 2 of 3".to_owned(),
                },
                clips: vec![ClipCompleted {
                    clip_id: "gen_1_clip_1".to_owned(),
                    thumbnail_url: "/thumbnails/gen_1/1.svg".to_owned(),
                    duration: 4.0,
                }],
                result: None,
                error: None,
                seq: 9,
            }),
            Snapshot::Composition(CompositionSnapshot {
                id: "comp_1".to_owned(),
                status: JobStatus::Processing,
                progress: CompositionProgressSnapshot {
                    percentage: 50.0,
                    frames_processed: 120,
                    total_frames: 240,
                    estimated_remaining: 1.2,
                },
                result: None,
                error: None,
                seq: 4,
            }),
        ]
    );
    assert_eq!(decoded[0].seq(), 9);
    assert_eq!(decoded[1].status(), JobStatus::Processing);
}

#[test]
fn a_snapshot_decodes_without_clips_result_or_error_and_ignores_unknown_fields() {
    let body = r#"{"id":"gen_2","status":"failed","extra":[1,{"a":null}],
        "progress":{"percentage":0,"step":"","clip_number":0,"total_clips":2},
        "error":{"code":"generation_failed","message":"boom","recoverable":false},"seq":3}"#;
    let Ok(Snapshot::Generation(snapshot)) = Snapshot::decode(Channel::Generation, body) else {
        panic!("{body} decodes as a generation");
    };
    assert_eq!(snapshot.clips, vec![]);
    assert_eq!(snapshot.result, None);
    assert_eq!(snapshot.progress.message, "");
    assert_eq!(
        snapshot.error.map(|error| error.code).as_deref(),
        Some("generation_failed")
    );

    let body = r#"{"id":"comp_2","status":"completed","seq":12,"clips":null,
        "progress":{"percentage":100.0,"frames_processed":240,"total_frames":240,"estimated_remaining":0},
        "result":{"video_url":"/videos/comp_2.mp4","thumbnail_url":"/t.svg","duration":10}}"#;
    let Ok(Snapshot::Composition(snapshot)) = Snapshot::decode(Channel::Composition, body) else {
        panic!("{body} decodes as a composition");
    };
    assert_eq!(
        snapshot.result.map(|result| result.video_url).as_deref(),
        Some("/videos/comp_2.mp4")
    );
    assert_eq!(snapshot.error, None);
}

#[test]
fn malformed_snapshots_are_refused_with_an_error_naming_the_problem() {
    let progress = r#""progress":{"percentage":41.7,"step":"rendering","clip_number":2,"total_clips":3,"message":""}"#;
    let cases = [
        ("{\"id\":", "not JSON".to_owned()),
        ("[1,2]", "must be a JSON object, not an array".to_owned()),
        (
            &format!(r#"{{"id":"gen_1","status":"running",{progress},"seq":1}}"#),
            "field \"status\" must be a job status".to_owned(),
        ),
        (
            &format!(r#"{{"id":"gen_1","status":"queued",{progress},"clips":{{}},"seq":1}}"#),
            "field \"clips\" must be an array, not an object".to_owned(),
        ),
        (
            &format!(r#"{{"id":"gen_1","status":"queued",{progress}}}"#),
            "missing field \"seq\"".to_owned(),
        ),
        (
            &format!(r#"{{"id":"gen_1","status":"queued",{progress},"seq":-1}}"#),
            "field \"seq\" must be an integer from 0 to 9007199254740991".to_owned(),
        ),
        (
            // One past what a JS number holds exactly: the app would read another number.
            &format!(r#"{{"id":"gen_1","status":"queued",{progress},"seq":9007199254740992}}"#),
            "field \"seq\" must be an integer from 0 to 9007199254740991".to_owned(),
        ),
        (
            r#"{"id":"gen_1","status":"queued","seq":1}"#,
            "missing field \"progress\"".to_owned(),
        ),
        (
            r#"{"id":"gen_1","status":"queued","progress":{"percentage":1},"seq":1}"#,
            "in \"progress\": missing field \"step\"".to_owned(),
        ),
        (
            &format!(
                r#"{{"id":"gen_1","status":"queued",{progress},"clips":[{{"clip_id":1}}],"seq":1}}"#
            ),
            "in \"clips\": field \"clip_id\" must be a string".to_owned(),
        ),
        (
            &format!(r#"{{"id":"gen_1","status":"queued",{progress},"result":"done","seq":1}}"#),
            "field \"result\" must be an object, not a string".to_owned(),
        ),
        (
            &format!(
                r#"{{"id":"gen_1","status":"failed",{progress},"error":{{"code":"x"}},"seq":1}}"#
            ),
            "in \"error\": missing field \"message\"".to_owned(),
        ),
    ];
    for (body, expected) in cases {
        let error = Snapshot::decode(Channel::Generation, body)
            .expect_err(body)
            .to_string();
        assert!(
            error.contains(&expected),
            "{body}: {error:?} lacks {expected:?}"
        );
    }
}

#[test]
fn no_mangled_snapshot_makes_decoding_or_catching_up_panic() {
    let mut seeds: Vec<Vec<u8>> = rest_examples()
        .into_iter()
        .map(|(_, body)| body.into_bytes())
        .collect();
    seeds.push(
        br#"{"id":"gen_1","status":"completed","seq":15,
        "progress":{"percentage":100,"step":"rendering","clip_number":3,"total_clips":3,"message":""},
        "clips":[{"clip_id":"a","thumbnail_url":"/a","duration":4},{"clip_id":"b","thumbnail_url":"/b","duration":4}],
        "result":{"video_url":"/v.mp4","thumbnail_url":"/t.svg","duration":8.0},
        "error":{"code":"x","message":"y","recoverable":false}}"#
            .to_vec(),
    );
    let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut decoded = 0;
    for _ in 0..5_000 {
        let text = mangled(&mut random, &seeds, 4);
        for channel in [Channel::Generation, Channel::Composition] {
            if let Ok(snapshot) = Snapshot::decode(channel, &text) {
                decoded += 1;
                let mut view = JobView::new();
                view.catch_up(&snapshot);
                view.catch_up(&snapshot);
            }
        }
    }
    // Some mutations land in strings or keep the body valid: the catch-up path runs too.
    assert!(decoded > 100, "only {decoded} mangled bodies decoded");
}
