// StrictMode, the provider's `options`, and the hook mounted with the page, before the wasm
// has loaded: the order a user's app gives. The job server's WebSocket URL and the job's id
// come from the query, so one build serves any server the test starts.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { ConnectionStatus, JobSocketProvider } from "jobsocket/react";
import { Job } from "./job.jsx";

const query = new URLSearchParams(location.search);
const options = { url: query.get("url") };

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <JobSocketProvider options={options}>
      <ConnectionStatus className="connection" />
      <Job id={query.get("job")} />
    </JobSocketProvider>
  </StrictMode>,
);
