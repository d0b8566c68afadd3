// The same hooks on servers that do not speak jobsocket's protocol: the four servers of the
// design documents (tests/e2e/dialect-servers.mjs runs them), each with the README's
// configuration. `make demo-dialects` starts them and prints this page's address for each;
// the query names the server kind, its address and its control API (which starts jobs and
// drops connections on purpose).
import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { ConnectionStatus, JobSocketProvider, useChannel, useWebSocket } from "jobsocket/react";
import type { JobSocketOptions, Protocol } from "jobsocket";
import configs from "../../tests/dialect-configs.json";
import { ConnectOnMount } from "./ConnectOnMount";
import { GenerationCard } from "./JobCard";

type Kind = "ep080" | "story1615" | "phase7" | "story007";

const params = new URLSearchParams(location.search);
const kind = (params.get("dialect") ?? "ep080") as Kind;
const server = params.get("server") ?? "";
const control = params.get("control") ?? "";
const random = () => Math.random().toString(36).slice(2, 10);
const user = `u-${random()}`;
const workspace = `w-${random()}`;
const project = `p-${random()}`;
/** Each server's prefix in the control API. */
const prefix: Record<Kind, string> = {
  ep080: "/socket.io",
  story1615: "/socket.io",
  phase7: "/phase-7",
  story007: "/story-007",
};

async function call(path: string, body: object): Promise<Record<string, unknown>> {
  const response = await fetch(`${control}${path}`, { method: "POST", body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return (await response.json()) as Record<string, unknown>;
}

const token = async () => String((await call("/token", { user, workspace })).token);

const options: JobSocketOptions = {
  url: server,
  protocol: configs[kind] as Protocol,
  reconnectInitialDelayMs: 200,
  // With a token, the outbox is stored per signed-in user.
  ...(kind === "story007" ? {} : { token, storageKey: `user:${user}` }),
  ...(kind === "phase7" ? { unauthorizedCloseCodes: [1008] } : {}),
};

/** A project's (story-007) or a workspace's (story-16-15) events, newest last. */
function ChannelEvents({ channel, id }: { channel: string; id: string }) {
  const { events } = useChannel(channel, id);
  return (
    <ol id="channel-events" aria-label={`${channel} events`}>
      {events.map(({ event, data, seq }) => (
        <li key={seq} data-event={event}>
          #{seq} {event} {JSON.stringify(data)}
        </li>
      ))}
    </ol>
  );
}

function Page() {
  const { state } = useWebSocket();
  const [jobs, setJobs] = useState<string[]>([]);
  const [published, setPublished] = useState(0);
  useEffect(() => {
    document.body.dataset.ready = "true";
  }, []);
  const start = () => {
    const job = `job-${random()}`;
    setJobs((previous) => [job, ...previous]);
    void call(`${prefix[kind]}/job`, { user, job, project, steps: 12, stepMs: 150 });
  };
  const publish = () => {
    setPublished(published + 1);
    void call("/socket.io/emit", {
      room: `workspace:${workspace}`,
      event: "approval.created",
      data: { approvalId: `a${published + 1}`, title: `Approval ${published + 1}` },
    });
  };
  const drop = () => void call(`${prefix[kind]}/drop`, { user, project });
  return (
    <>
      <header>
        <h1>jobsocket on {kind}</h1>
        <p>
          The React hooks, unchanged, on a server that speaks its own protocol; session recovered:{" "}
          <span id="recovered">{String(state.recovered)}</span>.
        </p>
        <ConnectionStatus className="connection" />
        <ConnectOnMount />
      </header>
      <main>
        <section className="controls" aria-label="Controls">
          {kind === "story1615" ? (
            <button type="button" id="publish" onClick={publish}>
              Publish an approval
            </button>
          ) : (
            <button type="button" id="start-job" onClick={start}>
              Start a job
            </button>
          )}
          <button type="button" id="drop" onClick={drop}>
            Drop the connection
          </button>
        </section>
        {kind === "story007" ? <ChannelEvents channel="project" id={project} /> : null}
        {kind === "story1615" ? <ChannelEvents channel="workspace" id={workspace} /> : null}
        <section id="jobs" aria-label="Jobs">
          {kind === "ep080" || kind === "phase7" ? jobs.map((job) => <GenerationCard key={job} id={job} />) : null}
        </section>
      </main>
    </>
  );
}

const root = document.getElementById("root");
if (!root) throw new Error("no #root element");
createRoot(root).render(
  <StrictMode>
    <JobSocketProvider options={options}>
      <Page />
    </JobSocketProvider>
  </StrictMode>,
);
