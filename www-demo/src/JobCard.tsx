import { useComposition, useGeneration } from "jobsocket/react";

function Bar({ progress }: { progress: number }) {
  const rounded = Math.round(progress);
  return (
    <>
      <div className="bar" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={rounded}>
        <div className="bar-fill" style={{ width: `${progress}%` }} />
      </div>
      <p className="job-progress">{rounded}%</p>
    </>
  );
}

export function GenerationCard({ id }: { id: string }) {
  const job = useGeneration(id);
  return (
    <article className="job" data-kind="generation" data-status={job.status ?? "queued"}>
      <h2>
        Generation <code>{id}</code>
      </h2>
      <p>
        Status: <strong className="job-status">{job.status ?? "queued"}</strong>
      </p>
      <Bar progress={job.progress} />
      <p className="job-message">{job.step ?? ""}</p>
      <ul className="clips">
        {job.clips.map((clip) => (
          <li key={clip.clip_id}>
            <img src={clip.thumbnail_url} alt={`clip ${clip.clip_id}`} />
          </li>
        ))}
      </ul>
      {job.result ? (
        <p className="job-result">
          Result: <a href={job.result.video_url}>{job.result.video_url}</a> ({job.result.duration} s)
        </p>
      ) : null}
      {job.error ? (
        <p className="job-error" role="alert">
          Error {job.error.code}: {job.error.message}
        </p>
      ) : null}
    </article>
  );
}

export function CompositionCard({ id }: { id: string }) {
  const job = useComposition(id);
  return (
    <article className="job" data-kind="composition" data-status={job.status ?? "queued"}>
      <h2>
        Composition <code>{id}</code>
      </h2>
      <p>
        Status: <strong className="job-status">{job.status ?? "queued"}</strong>
      </p>
      <Bar progress={job.progress} />
      <p className="job-message">
        {job.framesProcessed} / {job.totalFrames} frames
        {job.estimatedRemaining !== null ? `, about ${job.estimatedRemaining.toFixed(1)} s left` : ""}
      </p>
      {job.result ? (
        <p className="job-result">
          Result: <a href={job.result.video_url}>{job.result.video_url}</a>
        </p>
      ) : null}
      {job.error ? (
        <p className="job-error" role="alert">
          Error {job.error.code}: {job.error.message}
        </p>
      ) : null}
    </article>
  );
}
