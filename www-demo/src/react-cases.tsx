// The React adapter's hard cases on the real wasm client and the reference server, one per
// `?case=`: StrictMode with options and with a client, a client swap, an id change before the
// wasm has loaded, a provider remount, a hook whose id is refused next to one that works, and
// a .wasm whose first load fails (setup-retry: the page's first .wasm fetch is failed).
// tests/e2e/react-cases.test.mjs opens it in Chromium and Firefox.
import { StrictMode, useEffect, useRef, useState } from "react";
import { createRoot } from "react-dom/client";
import { createJobSocket, type JobSocketClient } from "jobsocket";
import { ConnectionStatus, JobSocketProvider, useGeneration, useJobEvents, useWebSocket } from "jobsocket/react";

declare global {
  interface Window {
    /** Every event's seq each job's hooks saw, in order. */
    __events: Record<string, number[]>;
    /** The connection when the id-change case switched ids. */
    __switchedWhile: string | null;
    __frames: string[];
    /** Lets the held .wasm fetch go on (react-cases.html). */
    __openWasmGate: () => void;
    /** How many times StrictMode ran the root's mount effect: 2 in React's development build. */
    __strictMounts: number;
    /** The job's status when the swap or remount case switched. */
    __switchedAt: string | null;
    __pageErrors: string[];
    /** The codes the provider's onError received. */
    __errors: string[];
  }
}

const params = new URLSearchParams(location.search);
const jobs = (params.get("jobs") ?? "").split(",");
const first = jobs[0] ?? "";
const url = `${location.origin.replace(/^http/, "ws")}/ws`;
// Every progress event delivered (no coalescing), so the seqs a hook saw can be checked.
const options = { url, maxProgressPerSecond: 0 };
window.__events = {};
window.__switchedWhile = null;
window.__errors = [];
window.__strictMounts = 0;
window.__switchedAt = null;

/** Counts the root's mount effects, so the test knows StrictMode really double-mounted. */
function StrictProbe() {
  useEffect(() => {
    window.__strictMounts += 1;
  }, []);
  return null;
}

function Job({ id }: { id: string }) {
  const job = useGeneration(id);
  useJobEvents("generation", id, { onEvent: (_data, meta) => (window.__events[id] ??= []).push(meta.seq) });
  return (
    <p
      className="job"
      data-id={id}
      data-status={job.status ?? "none"}
      data-progress={job.progress}
      data-clips={job.clips.length}
      data-error={job.error?.code ?? ""}
    >
      {id || "(empty id)"}: {job.status ?? "none"} {job.progress}% {job.clips.length} clips
    </p>
  );
}

/** Calls `then` once, the first time the job shows progress; records the job's status then. */
function OnceStarted({ id, then }: { id: string; then: () => void }) {
  const job = useGeneration(id);
  const started = job.progress > 0;
  const done = useRef(false);
  useEffect(() => {
    if (!started || done.current) return;
    done.current = true;
    window.__switchedAt = job.status;
    then();
  }, [started, then, job.status]);
  return null;
}

function SwapClients({ a, b }: { a: JobSocketClient; b: JobSocketClient }) {
  const [client, setClient] = useState(a);
  return (
    <JobSocketProvider client={client}>
      <Job id={first} />
      {client === a ? <OnceStarted id={first} then={() => setClient(b)} /> : null}
    </JobSocketProvider>
  );
}

/** Switches ids at mount; the page holds the .wasm fetch until the switch is committed. */
function SwitchIds() {
  const [id, setId] = useState("never-subscribed");
  const { state } = useWebSocket();
  useEffect(() => setId(first), []);
  useEffect(() => {
    if (id !== first) return;
    window.__switchedWhile ??= `${state.status}:${state.reason}`;
    window.__openWasmGate();
    // Only the committed switch matters, not later states.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id]);
  return <Job id={id} />;
}

function Remount() {
  const [generation, setGeneration] = useState(1);
  return (
    <JobSocketProvider key={generation} options={options}>
      <Job id={first} />
      {generation === 1 ? <OnceStarted id={first} then={() => setGeneration(2)} /> : null}
    </JobSocketProvider>
  );
}

async function scenario(name: string | null) {
  switch (name) {
    case "strict-options":
      return (
        <JobSocketProvider options={options}>
          {jobs.map((id) => <Job key={id} id={id} />)}
        </JobSocketProvider>
      );
    case "strict-client":
      return (
        <JobSocketProvider client={await createJobSocket(options)}>
          <Job id={first} />
        </JobSocketProvider>
      );
    case "swap":
      return <SwapClients a={await createJobSocket({ ...options, storageKey: "a" })} b={await createJobSocket({ ...options, storageKey: "b" })} />;
    case "id-change":
      return (
        <JobSocketProvider options={options}>
          <SwitchIds />
        </JobSocketProvider>
      );
    case "remount":
      return <Remount />;
    case "refused-id":
      return (
        <JobSocketProvider options={options}>
          <Job id="" />
          <Job id={first} />
        </JobSocketProvider>
      );
    case "setup-retry":
      return (
        <JobSocketProvider options={options} onError={(error) => window.__errors.push(error.code)}>
          <ConnectionStatus />
          <Job id={first} />
        </JobSocketProvider>
      );
    default:
      return <p>Unknown case {name}: strict-options, strict-client, swap, id-change, remount, refused-id, setup-retry.</p>;
  }
}

const root = document.getElementById("root");
if (!root) throw new Error("no #root element");
createRoot(root).render(
  <StrictMode>
    <StrictProbe />
    {await scenario(params.get("case"))}
  </StrictMode>,
);
document.body.dataset.ready = "true";
