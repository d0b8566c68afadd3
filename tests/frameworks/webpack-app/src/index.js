// A React app as webpack 5 bundles it: StrictMode, the provider's `options`, the hook mounted
// with the page. Plain createElement, so webpack needs no loader (the package is what is
// tested, not a JSX transform). The job server's WebSocket URL and the job's id come from the
// query, so one build serves any server the test starts.
import { StrictMode, createElement as h } from "react";
import { createRoot } from "react-dom/client";
import { ConnectionStatus, JobSocketProvider, useGeneration } from "jobsocket/react";

function Job({ id }) {
  const { status, progress, clips, error } = useGeneration(id);
  return h(
    "p",
    {
      id: "job",
      "data-status": status ?? "none",
      "data-progress": progress,
      "data-clips": clips.map((clip) => clip.clip_id).join(" "),
      "data-error": error?.message ?? "",
    },
    `${status ?? "waiting"}: ${Math.round(progress)}%, ${clips.length} clips`,
  );
}

const query = new URLSearchParams(location.search);
const options = { url: query.get("url") };

createRoot(document.getElementById("root")).render(
  h(
    StrictMode,
    null,
    h(
      JobSocketProvider,
      { options },
      h(ConnectionStatus, { className: "connection" }),
      h(Job, { id: query.get("job") }),
    ),
  ),
);
