//! What the server keeps in Redis, and under which names.
//!
//! Every job and every app channel is a *feed*: a stream of numbered events. A feed's keys share
//! one hash tag (`{…}`), so a Redis Cluster would keep them on one node and the scripts that
//! touch them stay single-slot:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `jobsocket:{F}:meta` | hash | `seq` (the last event's), and for jobs the plan's inputs (`spec`, `step_ms`, `started_at_ms`), the REST `snapshot`, `finished` |
//! | `jobsocket:{F}:log` | stream | the replay log: entry id `0-{seq}`, fields `f` (the event's frame, as sent) and `end` (`1` on a job's terminal event) |
//! | `jobsocket:{F}:lease` | string | the instance that runs the job, with a time to live |
//! | `jobsocket:{F}:live` | pub/sub channel | each event once, as `{seq} {end} {frame}` |
//! | `jobsocket:running` | set | the feeds `F` of the jobs still running, for takeover |
//! | `jobsocket:msg:{id}` | string | a handled message id, for a day |
//!
//! `F` is `generation:ID` or `composition:ID` for a job, and `app:LEN:NAME:ID` for an app
//! channel (the name's length first, so a name holding `:` cannot pass for another channel).

use jobsocket::core::protocol::Channel;

/// The set of running jobs' feeds.
pub const RUNNING: &str = "jobsocket:running";

/// The pattern every instance subscribes to: each feed's live channel.
pub const LIVE_PATTERN: &str = "jobsocket:*:live";

/// One feed's name, `F` in the module's table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Feed(String);

impl Feed {
    /// The feed of a job.
    pub fn job(channel: Channel, id: &str) -> Feed {
        Feed(format!("{channel}:{id}"))
    }

    /// The feed of an app channel's id.
    pub fn app(name: &str, id: &str) -> Feed {
        Feed(format!("app:{}:{name}:{id}", name.len()))
    }

    /// The feed a member of [`RUNNING`] names.
    pub fn from_member(member: String) -> Feed {
        Feed(member)
    }

    /// What [`RUNNING`] holds for this feed.
    pub fn member(&self) -> &str {
        &self.0
    }

    /// The job this feed is, if it is one.
    pub fn as_job(&self) -> Option<(Channel, &str)> {
        let (channel, id) = self.0.split_once(':')?;
        Some((Channel::from_name(channel)?, id))
    }

    pub fn meta(&self) -> String {
        format!("jobsocket:{{{}}}:meta", self.0)
    }

    pub fn log(&self) -> String {
        format!("jobsocket:{{{}}}:log", self.0)
    }

    pub fn lease(&self) -> String {
        format!("jobsocket:{{{}}}:lease", self.0)
    }

    pub fn live(&self) -> String {
        format!("jobsocket:{{{}}}:live", self.0)
    }

    /// The feed whose live channel is `channel`, for the pub/sub reader.
    pub fn from_live(channel: &str) -> Option<Feed> {
        let inner = channel
            .strip_prefix("jobsocket:{")?
            .strip_suffix("}:live")?;
        Some(Feed(inner.to_owned()))
    }
}

/// The key that marks message `id` handled.
pub fn message(id: &str) -> String {
    format!("jobsocket:msg:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_is_found_again_from_its_live_channel() {
        let feed = Feed::job(Channel::Generation, "gen_1");
        assert_eq!(feed.live(), "jobsocket:{generation:gen_1}:live");
        assert_eq!(Feed::from_live(&feed.live()), Some(feed.clone()));
        assert_eq!(feed.as_job(), Some((Channel::Generation, "gen_1")));
        assert_eq!(Feed::from_live("jobsocket:other"), None);
    }

    #[test]
    fn an_app_channel_whose_name_holds_a_colon_is_not_another_channel() {
        assert_ne!(Feed::app("a:b", "c"), Feed::app("a", "b:c"));
        assert_eq!(Feed::app("chat", "room").as_job(), None);
    }
}
