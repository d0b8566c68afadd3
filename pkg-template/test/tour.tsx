import { JobSocketProvider, ConnectionStatus, useGeneration, useComposition, useWebSocket } from "jobsocket/react";

// One provider at the top of the app: one client, one socket, closed when it unmounts.
export function Root() {
  return (
    <JobSocketProvider options={{ url: "wss://jobs.example.com/ws", token: () => fetch("/api/ws-token").then((r) => r.text()) }}>
      <ConnectionStatus />
      <GenerationProgress id="gen_42" />
      <CompositionProgress id="comp_7" />
      <CancelButton id="gen_42" />
    </JobSocketProvider>
  );
}

// Re-renders only when this job changes; two components on one job share one subscription.
function GenerationProgress({ id }: { id: string }) {
  const { status, progress, step, clips, result, error } = useGeneration(id);
  if (error) return <p role="alert">{error.message}</p>;
  if (result) return <video src={result.video_url} controls />;
  return (
    <div>
      <progress value={progress} max={100} /> {status} {step}
      {clips.map((clip) => <img key={clip.clip_id} src={clip.thumbnail_url} alt="" />)}
    </div>
  );
}

function CompositionProgress({ id }: { id: string }) {
  const { progress, framesProcessed, totalFrames, estimatedRemaining } = useComposition(id);
  return <p>{Math.round(progress)}%: {framesProcessed}/{totalFrames} frames, {estimatedRemaining ?? "?"} s left</p>;
}

// Messages go through the offline outbox: queued while disconnected, delivered once.
function CancelButton({ id }: { id: string }) {
  const { send, isConnected, isPolling } = useWebSocket();
  return (
    <button onClick={() => send("cancel", { job: id })}>
      Cancel {isConnected ? "" : isPolling ? "(polling)" : "(queued until reconnected)"}
    </button>
  );
}
