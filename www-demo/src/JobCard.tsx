import type { ReactNode } from "react";
import { useComposition, useGeneration } from "jobsocket/react";
import type { JobErrorData, JobResultData, JobStatus } from "jobsocket";

interface CardProps {
  kind: "generation" | "composition";
  id: string;
  status: JobStatus | null;
  progress: number;
  result: JobResultData | null;
  error: JobErrorData | null;
  /** What is particular to the kind of job, under the progress bar. */
  children: ReactNode;
}

/** What every job card shows: its id and status, the progress bar, the result or the error. */
function Card({ kind, id, status, progress, result, error, children }: CardProps) {
  const rounded = Math.round(progress);
  return (
    <article className="job" data-kind={kind} data-status={status ?? "queued"}>
      <h2>
        {kind === "generation" ? "Generation" : "Composition"} <code>{id}</code>
      </h2>
      <p>
        Status: <strong className="job-status">{status ?? "queued"}</strong>
      </p>
      <div className="bar" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={rounded}>
        <div className="bar-fill" style={{ width: `${progress}%` }} />
      </div>
      <p className="job-progress">{rounded}%</p>
      {children}
      {result ? (
        <p className="job-result">
          Result: <a href={result.video_url}>{result.video_url}</a> ({result.duration} s)
        </p>
      ) : null}
      {error ? (
        <p className="job-error" role="alert">
          Error {error.code}: {error.message}
        </p>
      ) : null}
    </article>
  );
}

export function GenerationCard({ id }: { id: string }) {
  const job = useGeneration(id);
  return (
    <Card kind="generation" id={id} {...job}>
      <p className="job-message">{job.step ?? ""}</p>
      <ul className="clips">
        {job.clips.map((clip) => (
          <li key={clip.clip_id}>
            <img src={clip.thumbnail_url} alt={`clip ${clip.clip_id}`} />
          </li>
        ))}
      </ul>
    </Card>
  );
}

export function CompositionCard({ id }: { id: string }) {
  const job = useComposition(id);
  return (
    <Card kind="composition" id={id} {...job}>
      <p className="job-message">
        {job.framesProcessed} / {job.totalFrames} frames
        {job.estimatedRemaining !== null ? `, about ${job.estimatedRemaining.toFixed(1)} s left` : ""}
      </p>
    </Card>
  );
}
