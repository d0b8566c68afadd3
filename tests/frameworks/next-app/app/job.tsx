"use client";
// The hook runs from the first render (on the server it gives the initial state, in the
// browser it subscribes as soon as the wasm is loaded); the paragraph's attributes are what
// the test reads.
import { useGeneration } from "jobsocket/react";

export function Job({ id }: { id: string }) {
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
