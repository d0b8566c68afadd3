// A server component: it renders the provider (a client component, `jobsocket/react` starts
// with "use client") with plain options, so they cross the server/client boundary as props.
// The job server's WebSocket URL and the job's id come from the query, so the build needs
// neither and the test can point the page at a server started on any port.
import { ConnectionStatus, JobSocketProvider } from "jobsocket/react";
import { Job } from "./job";

type Query = Promise<Record<string, string | string[] | undefined>>;

export default async function Page({ searchParams }: { searchParams: Query }) {
  const { url, job } = await searchParams;
  if (typeof url !== "string" || typeof job !== "string") {
    return <p id="usage">Open this page with ?url=ws://host:port/ws&amp;job=ID</p>;
  }
  return (
    <JobSocketProvider options={{ url }}>
      <ConnectionStatus className="connection" />
      <Job id={job} />
    </JobSocketProvider>
  );
}
