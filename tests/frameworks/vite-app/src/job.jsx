// The job's state as attributes the test reads.
import { useGeneration } from "jobsocket/react";

export function Job({ id }) {
  const { status, progress, clips, error } = useGeneration(id);
  return (
    <p
      id="job"
      data-status={status ?? "none"}
      data-progress={progress}
      data-clips={clips.map((clip) => clip.clip_id).join(" ")}
      data-error={error?.message ?? ""}
    >
      {status ?? "waiting"}: {Math.round(progress)}%, {clips.length} clips
    </p>
  );
}
