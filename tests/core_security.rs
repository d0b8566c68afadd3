//! Issue 12's client findings, each shown as an attack first: what another client, another
//! user of the same browser, or a hostile page could do, and that it no longer works.

mod support;

use jobsocket::core::RawJson;
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
