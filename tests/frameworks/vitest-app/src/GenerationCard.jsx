// The user's component under test: a generation's progress, its clips, its video, and a
// cancel button that sends a message through the provider's client.
import { useGeneration, useWebSocket } from "jobsocket/react";

export function GenerationCard({ id }) {
  const { status, progress, step, clips, result, error } = useGeneration(id);
  const { send } = useWebSocket();
  return (
    <section aria-label={`generation ${id}`} data-status={status ?? "none"}>
      <progress value={progress} max={100} />
      <p>
        {status ?? "waiting"} {step ?? ""}
      </p>
      <ul>
        {clips.map((clip) => (
          <li key={clip.clip_id}>{clip.clip_id}</li>
        ))}
      </ul>
      {result ? <video src={result.video_url} /> : null}
      {error ? <p role="alert">{error.message}</p> : null}
      <button type="button" onClick={() => send("cancel", { job: id })}>
        Cancel
      </button>
    </section>
  );
}
