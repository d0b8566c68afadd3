//! The Lua scripts that change a feed. Redis runs each one whole, with nothing in between, so a
//! feed's seq, its log, its snapshot and its live publish change together, as the in-memory
//! store does them under one lock (see [`crate::jobs`]).
//!
//! **Where a job's `seq` is decided.** The instance that holds the job's lease proposes the next
//! seq; [`EMIT`] writes it only if that instance still holds the lease (or nobody does) and the
//! seq follows the stored one by exactly one. A second writer, say an instance that was frozen
//! past its lease while another took the job over, is refused and stops. So every seq is
//! written once, by one script, and the log's entry ids (`0-{seq}`, which Redis wants strictly
//! increasing) refuse a repeat a second time over.

use redis::Script;

/// What [`EMIT`] answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Emitted {
    /// Logged, stored and published.
    Done,
    /// Another instance holds the job's lease: this one must stop running it.
    NotOwner,
    /// The stored seq is not the one before: another instance ran the job meanwhile.
    Conflict { stored: u64 },
    /// The job's meta is gone: Redis lost its data (restarted without persistence). Store the
    /// job again ([`RESTORE`]) and emit again.
    Missing,
}

impl Emitted {
    pub fn parse(reply: &[String]) -> Emitted {
        match reply {
            [status] if status == "ok" => Emitted::Done,
            [status] if status == "missing" => Emitted::Missing,
            [status, stored] if status == "seq" => Emitted::Conflict {
                stored: stored.parse().unwrap_or(0),
            },
            _ => Emitted::NotOwner,
        }
    }
}

/// Appends one event to a job: KEYS meta, log, lease, running set; ARGV the instance's token,
/// the seq, the frame, the snapshot after it, `1` if terminal else `0`, the log's length cap,
/// the feed's time to live in ms, the live channel, the running-set member, the lease in ms.
pub fn emit() -> Script {
    Script::new(
        r#"
local holder = redis.call('GET', KEYS[3])
if holder and holder ~= ARGV[1] then return {'not_owner'} end
local stored = redis.call('HGET', KEYS[1], 'seq')
if not stored then return {'missing'} end
if tonumber(stored) + 1 ~= tonumber(ARGV[2]) then return {'seq', stored} end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '0-' .. ARGV[2], 'f', ARGV[3], 'end', ARGV[5])
redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'snapshot', ARGV[4])
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 'finished', '1')
  redis.call('SREM', KEYS[4], ARGV[9])
  redis.call('DEL', KEYS[3])
else
  redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[10])
end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
redis.call('PUBLISH', ARGV[8], ARGV[2] .. ' ' .. ARGV[5] .. ' ' .. ARGV[3])
return {'ok'}
"#,
    )
}

/// Stores a job that is not in Redis (new, or lost with Redis's data): KEYS meta, lease,
/// running set; ARGV the instance's token, the lease in ms, the running-set member, the time
/// to live in ms, then the meta's field/value pairs. Returns 0 if the job was there already.
pub fn restore() -> Script {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
return 1
"#,
    )
}

/// Keeps a lease this instance holds: KEYS lease; ARGV token, lease in ms. 1 if kept, 0 if
/// another instance holds it, 2 if it had lapsed and nobody took it (now held again).
pub fn renew() -> Script {
    Script::new(
        r#"
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 2
"#,
    )
}

/// Gives a lease up if this instance holds it (a clean stop): KEYS lease; ARGV token.
pub fn release() -> Script {
    Script::new(
        r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#,
    )
}

/// Appends one event to an app channel if `seq` follows the stored one: KEYS meta, log; ARGV
/// the seq, the frame, the log's cap, the time to live in ms, the live channel. Returns -1 when
/// appended, else the stored seq to propose after. Any instance may publish to a channel, so
/// instances propose and retry; the script is still the one place a seq is decided.
pub fn append_app() -> Script {
    Script::new(
        r#"
local stored = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if stored + 1 ~= tonumber(ARGV[1]) then return stored end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '0-' .. ARGV[1], 'f', ARGV[2], 'end', '0')
redis.call('HSET', KEYS[1], 'seq', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[1] .. ' 0 ' .. ARGV[2])
return -1
"#,
    )
}
