//! JSON templates with placeholders: the frames and payloads a dialect's options declare, such
//! as `{"type":"subscribe","data":{"jobId":"{id}"}}` or a Socket.IO `auth` of
//! `{"token":"{token}"}`.
//!
//! A template is parsed once, when the options are read, into literal text and holes; each
//! frame is then one pass of string pushes. Placeholders are recognised inside JSON string
//! values only (not in keys), anywhere in the string (`"job:{id}"`), and the value put in
//! their place is JSON-escaped, so an id with a quote in it cannot break the frame.

use super::super::json::{self, Kind, Value};

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hole {
    /// `{id}`: the job (or channel) id of the subscription.
    Id,
    /// `{channel}`: the channel's name (`generation`, `composition`, or the app's own).
    Channel,
    /// `{token}`: the token the `token` option gave for this attempt.
    Token,
}

const HOLES: [(&str, Hole); 3] = [
    ("{id}", Hole::Id),
    ("{channel}", Hole::Channel),
    ("{token}", Hole::Token),
];

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    /// Text copied as it is (already valid JSON around the holes).
    Text(String),
    /// A value escaped for the inside of a JSON string.
    Hole(Hole),
}

/// A JSON value with holes.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// The values for the holes of one rendering.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fill<'a> {
    pub id: &'a str,
    pub channel: &'a str,
    pub token: &'a str,
}

impl Template {
    /// Reads a template from JSON text; the error says where it is not JSON.
    pub fn parse(text: &str) -> Result<Template, String> {
        let value = json::parse(text).map_err(|error| error.to_string())?;
        let mut strings = Vec::new();
        collect_strings(&value, &mut strings);
        let mut pieces = Vec::new();
        let mut copied = 0;
        for (span, content) in strings {
            if next_hole(&content).is_none() {
                continue;
            }
            push_text(&mut pieces, &text[copied..span.start]);
            push_text(&mut pieces, "\"");
            let mut rest = content.as_str();
            while let Some((at, name, hole)) = next_hole(rest) {
                push_text(&mut pieces, &escaped(&rest[..at]));
                pieces.push(Piece::Hole(hole));
                rest = &rest[at + name.len()..];
            }
            push_text(&mut pieces, &escaped(rest));
            push_text(&mut pieces, "\"");
            copied = span.end;
        }
        push_text(&mut pieces, &text[copied..]);
        Ok(Template { pieces })
    }

    /// The JSON text with every hole filled.
    pub fn render(&self, fill: &Fill<'_>) -> String {
        let mut out = String::with_capacity(64);
        self.render_into(&mut out, fill);
        out
    }

    /// [`Template::render`], appending to `out`.
    pub fn render_into(&self, out: &mut String, fill: &Fill<'_>) {
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Hole(hole) => json::write_string_contents(
                    out,
                    match hole {
                        Hole::Id => fill.id,
                        Hole::Channel => fill.channel,
                        Hole::Token => fill.token,
                    },
                ),
            }
        }
    }

    /// Whether the template uses this hole.
    pub fn uses(&self, wanted: Hole) -> bool {
        self.pieces
            .iter()
            .any(|piece| matches!(piece, Piece::Hole(hole) if *hole == wanted))
    }
}

fn push_text(pieces: &mut Vec<Piece>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(Piece::Text(last)) = pieces.last_mut() {
        last.push_str(text);
    } else {
        pieces.push(Piece::Text(text.to_owned()));
    }
}

fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    json::write_string_contents(&mut out, text);
    out
}

/// The first placeholder in `text`: where, its name, and what it stands for. A byte scan for
/// `{` rather than `str::find`, whose substring searcher weighs more in wasm than this module.
fn next_hole(text: &str) -> Option<(usize, &'static str, Hole)> {
    text.bytes()
        .enumerate()
        .filter(|(_, byte)| *byte == b'{')
        .find_map(|(at, _)| {
            let rest = text.get(at..)?;
            HOLES
                .iter()
                .find(|(name, _)| rest.starts_with(name))
                .map(|(name, hole)| (at, *name, *hole))
        })
}

/// Every string value (not key) of `value` in text order, with its span and decoded content.
fn collect_strings(value: &Value<'_>, out: &mut Vec<(std::ops::Range<usize>, String)>) {
    match &value.kind {
        Kind::String(content) => out.push((value.span.clone(), content.to_string())),
        Kind::Array(items) => items.iter().for_each(|item| collect_strings(item, out)),
        Kind::Object(members) => members
            .iter()
            .for_each(|(_, member)| collect_strings(member, out)),
        Kind::Null | Kind::Bool(_) | Kind::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::{Fill, Hole, Template};

    fn fill<'a>(id: &'a str, token: &'a str) -> Fill<'a> {
        Fill {
            id,
            channel: "generation",
            token,
        }
    }

    #[test]
    fn holes_are_filled_inside_strings_and_escaped() {
        let template = Template::parse(r#"{ "type": "subscribe", "data": { "jobId": "{id}" } }"#)
            .expect("valid template");
        assert_eq!(
            template.render(&fill(r#"a"b\c"#, "")),
            r#"{ "type": "subscribe", "data": { "jobId": "a\"b\\c" } }"#
        );
        assert!(template.uses(Hole::Id));
        assert!(!template.uses(Hole::Token));
    }

    #[test]
    fn several_holes_in_one_string_and_text_around_them_are_kept() {
        let template =
            Template::parse(r#"["join","{channel}:{id}",{"auth":"Bearer {token}","n":1}]"#)
                .expect("valid template");
        assert_eq!(
            template.render(&fill("j_1", "t\n")),
            r#"["join","generation:j_1",{"auth":"Bearer t\n","n":1}]"#
        );
    }

    #[test]
    fn a_template_without_holes_is_its_own_text_and_keys_are_not_holes() {
        let text = r#"{"{id}":"ping","escaped":"\u00e9"}"#;
        let template = Template::parse(text).expect("valid template");
        assert_eq!(template.render(&fill("x", "")), text);
    }

    #[test]
    fn a_template_that_is_not_json_is_refused_with_where() {
        let error = Template::parse(r#"{"type":"subscribe""#).expect_err("not JSON");
        assert!(error.contains("at byte"), "{error}");
    }
}
