//! What the run asks for, decided before it starts: the shape of every job (so that it runs
//! for the requested duration and the tool knows how many events each will emit), which
//! instance runs each job, and which instance each client connects to and which job it watches.

/// Most clips and steps per clip the server accepts (`www-demo/server/src/http.rs`).
const MAX_CLIPS: u64 = 50;
const MAX_STEPS_PER_CLIP: u64 = 100;

/// The request for one generation job, and how many events it emits.
///
/// A generation emits `queued` at start (seq 1), then one event per step: `status_change` to
/// processing, `steps_per_clip` progress events and a `clip_completed` per clip, then
/// `status_change` to completed and `completed` (`www-demo/server/src/jobs/plan.rs`). Seq
/// `s ≥ 2` is due `(s − 1) × step_ms` after the job's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobShape {
    pub clips: u64,
    pub steps_per_clip: u64,
    pub step_ms: u64,
}

impl JobShape {
    /// The shape whose steps fill `duration_ms` at `step_ms`, as near as the server's limits on
    /// clips and steps allow (at most 50 × 101 + 3 steps).
    pub fn for_duration(duration_ms: u64, step_ms: u64) -> JobShape {
        let steps = (duration_ms / step_ms.max(1)).max(4);
        // Steps besides the three status events, spread over as few clips as fit.
        let clip_steps = steps - 3;
        let clips = clip_steps
            .div_ceil(MAX_STEPS_PER_CLIP + 1)
            .clamp(1, MAX_CLIPS);
        let per_clip = (clip_steps + clips / 2) / clips;
        JobShape {
            clips,
            steps_per_clip: per_clip.saturating_sub(1).clamp(1, MAX_STEPS_PER_CLIP),
            step_ms,
        }
    }

    /// Every event of the job, `queued` included: the terminal event's seq.
    pub fn events(&self) -> u64 {
        self.clips * (self.steps_per_clip + 1) + 4
    }

    /// How long the job runs, from its start to its terminal event.
    pub fn run_ms(&self) -> u64 {
        (self.events() - 1) * self.step_ms
    }

    /// The body of `POST /api/v1/generations`.
    pub fn request_body(&self) -> String {
        format!(
            r#"{{"clips":{},"steps_per_clip":{},"step_ms":{},"prompt":"load test"}}"#,
            self.clips, self.steps_per_clip, self.step_ms
        )
    }
}

/// Which instance runs each job and where each client connects.
///
/// Job `j` runs on instance `j mod I`. Client `i` watches job `i mod J`. With a shared Redis,
/// client `i` connects to instance `⌊i / J⌋ mod I`, so that the watchers of every job are spread
/// over every instance (1,000 clients, 100 jobs, 2 instances: 10 watchers per job, 5 on each
/// instance, half of them on the instance that does not run the job). Without Redis an instance
/// knows its own jobs only, so a client connects to the instance of the job it watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub instances: usize,
    pub jobs: usize,
    pub clients: usize,
    pub shared: bool,
}

impl Layout {
    pub fn job_instance(&self, job: usize) -> usize {
        job % self.instances
    }

    pub fn client_job(&self, client: usize) -> usize {
        client % self.jobs
    }

    pub fn client_instance(&self, client: usize) -> usize {
        if self.shared {
            (client / self.jobs) % self.instances
        } else {
            self.job_instance(self.client_job(client))
        }
    }

    /// The clients watching `job`.
    pub fn watchers(&self, job: usize) -> impl Iterator<Item = usize> + '_ {
        (job..self.clients).step_by(self.jobs)
    }

    /// Watchers connected to an instance other than the job's own: the ones whose events
    /// crossed Redis.
    pub fn remote_watchers(&self) -> usize {
        (0..self.clients)
            .filter(|&client| {
                self.client_instance(client) != self.job_instance(self.client_job(client))
            })
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_seconds_at_ten_ms_is_two_thousand_steps_within_the_servers_limits() {
        let shape = JobShape::for_duration(20_000, 10);
        assert_eq!((shape.clips, shape.steps_per_clip), (20, 99));
        assert_eq!(shape.events(), 2_004);
        assert_eq!(shape.run_ms(), 20_030);
        let quick = JobShape::for_duration(2_000, 10);
        assert_eq!(quick.events(), 202);
        for (duration, step) in [(1, 10), (40, 10), (60_000, 10), (600_000, 1), (50, 7)] {
            let shape = JobShape::for_duration(duration, step);
            assert!((1..=MAX_CLIPS).contains(&shape.clips), "{shape:?}");
            assert!((1..=MAX_STEPS_PER_CLIP).contains(&shape.steps_per_clip));
        }
    }

    #[test]
    fn with_redis_every_job_has_watchers_on_every_instance() {
        let layout = Layout {
            instances: 2,
            jobs: 100,
            clients: 1_000,
            shared: true,
        };
        for job in 0..100 {
            let on = |instance| {
                layout
                    .watchers(job)
                    .filter(|&client| layout.client_instance(client) == instance)
                    .count()
            };
            assert_eq!((on(0), on(1)), (5, 5), "job {job}");
        }
        let on_a = (0..1_000).filter(|&c| layout.client_instance(c) == 0);
        assert_eq!(on_a.count(), 500);
        assert_eq!(layout.remote_watchers(), 500);
    }

    #[test]
    fn without_redis_every_client_is_on_its_jobs_instance() {
        let layout = Layout {
            instances: 2,
            jobs: 10,
            clients: 40,
            shared: false,
        };
        assert_eq!(layout.remote_watchers(), 0);
        assert_eq!(layout.watchers(3).collect::<Vec<_>>(), [3, 13, 23, 33]);
    }
}
