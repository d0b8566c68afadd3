import { useEffect, useState } from "react";
import { ConnectionStatus, useWebSocket } from "jobsocket/react";
import { admin, startJob, type Kind } from "./api";
import { ConnectOnMount } from "./ConnectOnMount";
import { CompositionCard, GenerationCard } from "./JobCard";

interface Job {
  kind: Kind;
  id: string;
}

/** The connection's changes, newest first. */
function EventLog() {
  const { state } = useWebSocket();
  const [lines, setLines] = useState<string[]>([]);
  useEffect(() => {
    const line = `${new Date().toLocaleTimeString()} ${state.status}${state.reason ? ` (${state.reason})` : ""}`;
    setLines((previous) => [line, ...previous].slice(0, 30));
  }, [state.status, state.reason]);
  const error = state.lastError;
  useEffect(() => {
    if (!error) return;
    // A server's own error shows its code beside ours: "server_error (unknown_job)".
    const code = error.code === "server_error" ? `${error.code} (${error.serverCode})` : error.code;
    const line = `${new Date().toLocaleTimeString()} error ${code}: ${error.message}`;
    setLines((previous) => [line, ...previous].slice(0, 30));
  }, [error]);
  return (
    <section aria-label="Event log">
      <h2>Event log</h2>
      <ol id="event-log">
        {lines.map((line, index) => (
          <li key={`${index}-${line}`}>{line}</li>
        ))}
      </ol>
    </section>
  );
}

function Switch({ route, label }: { route: "mute-pongs" | "refuse-ws" | "fail-polls"; label: string }) {
  const [on, setOn] = useState(false);
  return (
    <button
      type="button"
      id={route}
      aria-pressed={on}
      onClick={() => void admin(route, !on).then(() => setOn(!on))}
    >
      {label}: {on ? "on" : "off"}
    </button>
  );
}

/**
 * Which server instance the socket reached: a server started with `--instance NAME` puts its
 * name before the dot of every client id (`make demo REDIS=1` runs instances `a` and `b`
 * behind one address). Nothing is shown for a server without a name.
 */
function ServerInstance() {
  const { state } = useWebSocket();
  const dot = state.clientId?.indexOf(".") ?? -1;
  if (state.clientId == null || dot < 0) return null;
  return (
    <p className="instance">
      Connected to server instance <strong id="instance">{state.clientId.slice(0, dot)}</strong>{" "}
      (client id {state.clientId})
    </p>
  );
}

/** Breaks things on purpose: the server's admin API, and the browser's network events. */
function ChaosPanel() {
  const { send, state } = useWebSocket();
  const [sent, setSent] = useState(0);
  return (
    <section className="chaos" aria-label="Chaos panel">
      <h2>Chaos panel</h2>
      <div className="controls">
        <button type="button" id="drop" onClick={() => void admin("drop")}>
          Drop connections
        </button>
        <Switch route="mute-pongs" label="Mute pongs" />
        <Switch route="refuse-ws" label="Refuse WebSockets" />
        <Switch route="fail-polls" label="Fail polls" />
        <button type="button" id="go-offline" onClick={() => window.dispatchEvent(new Event("offline"))}>
          Go offline
        </button>
        <button type="button" id="go-online" onClick={() => window.dispatchEvent(new Event("online"))}>
          Come back online
        </button>
        <button
          type="button"
          id="send-message"
          onClick={() => {
            send("note", { text: `note ${sent + 1}` });
            setSent(sent + 1);
          }}
        >
          Send a message
        </button>
      </div>
      <p>
        Messages sent: <span id="sent">{sent}</span>, waiting for an ack:{" "}
        <span id="outbox-size">{state.outboxSize}</span>, transport:{" "}
        <span id="transport">{state.transport ?? "none"}</span>
      </p>
    </section>
  );
}

export function App() {
  const [jobs, setJobs] = useState<Job[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  const start = (kind: Kind, fail = false) => {
    startJob(kind, fail)
      .then((id) => setJobs((previous) => [{ kind, id }, ...previous]))
      .catch((error: unknown) => setProblem(String(error)));
  };
  useEffect(() => {
    document.body.dataset.ready = "true";
  }, []);
  return (
    <>
      <header>
        <h1>jobsocket demo</h1>
        <p>Start a job on the reference server and watch every event arrive; then break things.</p>
        <ConnectionStatus className="connection" />
        <ServerInstance />
        <ConnectOnMount />
      </header>
      <main>
        <section className="controls" aria-label="Start a job">
          <button type="button" id="start-generation" onClick={() => start("generation")}>
            Start generation
          </button>
          <button type="button" id="start-failing-generation" onClick={() => start("generation", true)}>
            Start a generation that fails
          </button>
          <button type="button" id="start-composition" onClick={() => start("composition")}>
            Start composition
          </button>
        </section>
        {problem ? <p role="alert">{problem}</p> : null}
        <section id="jobs" aria-label="Jobs">
          {jobs.map((job) =>
            job.kind === "generation" ? (
              <GenerationCard key={job.id} id={job.id} />
            ) : (
              <CompositionCard key={job.id} id={job.id} />
            ),
          )}
        </section>
        <ChaosPanel />
        <EventLog />
      </main>
    </>
  );
}
