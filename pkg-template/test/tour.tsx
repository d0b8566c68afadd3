import { JobSocketProvider, ConnectionStatus, useGeneration, useComposition, useWebSocket } from "jobsocket/react";

// One provider at the top of the app: one client, one socket, opened when something needs it.
export function Root() {
  return (
    <JobSocketProvider
      options={{ url: "wss://jobs.example.com/ws", token: () => fetch("/api/ws-token").then((r) => r.text()) }}
      onError={(error) => console.warn(error.code, error.message)}
    >
      <ConnectionStatus />
      <GenerationProgress id="gen_42" />
      <CompositionProgress id="comp_7" />
      <CancelButton id="gen_42" />
    </JobSocketProvider>
  );
}

// Re-renders only when this job changes; two components on one job share one subscription.
function GenerationProgress({ id }: { id: string }) {
  const job = useGeneration(id);
  if (job.status === "completed") return <video src={job.result.video_url} controls />;
  if (job.status === "failed") return <p role="alert">{job.error?.message ?? "failed"}</p>;
  return (
    <div>
      <progress value={job.progress} max={100} /> {job.status ?? "waiting"} {job.step}
      {job.warning ? <small> ({job.warning.message}, retrying)</small> : null}
      {job.clips.map((clip) => <img key={clip.clip_id} src={clip.thumbnail_url} alt="" />)}
    </div>
  );
}

function CompositionProgress({ id }: { id: string }) {
  const { progress, framesProcessed, totalFrames, estimatedRemaining } = useComposition(id);
  return <p>{Math.round(progress)}%: {framesProcessed}/{totalFrames} frames, {estimatedRemaining ?? "?"} s left</p>;
}

// Messages go through the offline outbox: queued while disconnected (or while the wasm still
// loads), delivered once.
function CancelButton({ id }: { id: string }) {
  const { send, isConnected, isPolling } = useWebSocket();
  return (
    <button onClick={() => void send("cancel", { job: id })}>
      Cancel {isConnected ? "" : isPolling ? "(polling)" : "(queued until connected)"}
    </button>
  );
}
