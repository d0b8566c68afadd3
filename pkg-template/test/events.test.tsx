// The event hooks (useJobEvents, useServerEvent), a job's recoverable errors, and the TanStack
// Query adapter with @tanstack/react-query from the registry, all driven by the MockClient.
import { StrictMode, useState } from "react";
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { QueryClient, QueryClientProvider, useQuery } from "@tanstack/react-query";
import { afterEach, expect, test, vi } from "vitest";
import { JobSocketProvider, useChannel, useGeneration, useJobEvents, useServerEvent } from "../src/react.js";
import { useQuerySync } from "../src/react-query.js";
import { MockClient } from "../src/testing.js";
import type { JobResultData } from "../src/types.js";

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

const progress = (percentage: number) => ({ step: "render", clip_number: 1, total_clips: 1, percentage, message: "" });

test("useJobEvents calls the latest handlers, without resubscribing when they change", () => {
  const client = new MockClient();
  const calls: string[] = [];
  function Watcher() {
    const [label, setLabel] = useState("first");
    useJobEvents("generation", "g1", {
      progress: (data, meta) => calls.push(`${label} progress ${data.percentage} #${meta.seq}`),
      onEvent: (_data, meta) => calls.push(`${label} any ${meta.event}`),
    });
    return <button onClick={() => setLabel("second")}>relabel</button>;
  }
  render(
    <StrictMode>
      <JobSocketProvider client={client}>
        <Watcher />
      </JobSocketProvider>
    </StrictMode>,
  );
  act(() => client.emit("generation", "g1", "progress", progress(10)));
  act(() => screen.getByRole("button").click());
  act(() => client.emit("generation", "g1", "progress", progress(20)));
  expect(calls).toEqual(["first progress 10 #1", "first any progress", "second progress 20 #2", "second any progress"]);
  expect(client.subscribes.get("generation:g1")).toBe(1);
});

test("useJobEvents and useGeneration on one job share one subscription", () => {
  const client = new MockClient();
  function Both() {
    useJobEvents("generation", "g1", {});
    useGeneration("g1");
    return null;
  }
  render(
    <JobSocketProvider client={client}>
      <Both />
    </JobSocketProvider>,
  );
  expect(client.subscribes.get("generation:g1")).toBe(1);
});

test("useServerEvent hears an event name from any channel, with the latest callback", () => {
  const client = new MockClient();
  const heard: string[] = [];
  function Listener({ prefix }: { prefix: string }) {
    useServerEvent<{ "notification.new": { text: string } }>("notification.new", (data) => heard.push(`${prefix}${data.text}`));
    return null;
  }
  const { rerender } = render(
    <JobSocketProvider client={client}>
      <Listener prefix="a:" />
    </JobSocketProvider>,
  );
  act(() => client.emit("workspace", "w1", "notification.new", { text: "hi" }));
  rerender(
    <JobSocketProvider client={client}>
      <Listener prefix="b:" />
    </JobSocketProvider>,
  );
  act(() => client.emit("workspace", "w1", "notification.new", { text: "again" }));
  expect(heard).toEqual(["a:hi", "b:again"]);
  // The new callback was used without listening again.
  expect(client.listens.get("notification.new")).toBe(1);
});

test("a handler that throws does not stop the other hooks on the same job; the error still surfaces", () => {
  const client = new MockClient();
  const heard: string[] = [];
  function Throwing() {
    useJobEvents("generation", "g1", {
      progress: () => {
        throw new Error("app bug");
      },
      onEvent: (_data, meta) => heard.push(`throwing's onEvent ${meta.event}`),
    });
    return null;
  }
  function Calm() {
    useJobEvents("generation", "g1", { onEvent: (_data, meta) => heard.push(`calm ${meta.event}`) });
    const job = useGeneration("g1");
    return <p data-testid="calm">{job.progress}</p>;
  }
  render(
    <JobSocketProvider client={client}>
      <Throwing />
      <Calm />
    </JobSocketProvider>,
  );
  // The wasm client catches what a handler throws and reports it as a handler_error.
  expect(() => act(() => client.emit("generation", "g1", "progress", progress(40)))).toThrow("app bug");
  expect(heard).toEqual(["throwing's onEvent progress", "calm progress"]);
  act(() => {}); // the render the throw interrupted
  expect(screen.getByTestId("calm").textContent).toBe("40");
});

test("useChannel refuses the job channels' names rather than sharing their state", () => {
  const client = new MockClient();
  function Misused() {
    const channel = useChannel("generation", "g1");
    return <p data-testid="misused">{channel.error?.code ?? "none"} {channel.events.length}</p>;
  }
  render(
    <JobSocketProvider client={client}>
      <Misused />
    </JobSocketProvider>,
  );
  expect(screen.getByTestId("misused").textContent).toBe("invalid_subscription 0");
});

test("a recoverable error shows as a warning, and the next progress clears it", () => {
  const client = new MockClient();
  function Job() {
    const job = useGeneration("g1");
    return (
      <p data-testid="job">
        {job.status} {job.progress} {job.warning?.code ?? "-"} {job.error?.code ?? "-"}
      </p>
    );
  }
  render(
    <JobSocketProvider client={client}>
      <Job />
    </JobSocketProvider>,
  );
  act(() => client.emit("generation", "g1", "progress", progress(30)));
  act(() => client.emit("generation", "g1", "error", { code: "gpu_busy", message: "retrying", recoverable: true }));
  expect(screen.getByTestId("job").textContent).toBe("processing 30 gpu_busy -");
  act(() => client.emit("generation", "g1", "progress", progress(60)));
  expect(screen.getByTestId("job").textContent).toBe("processing 60 - -");
  act(() => client.emit("generation", "g1", "error", { code: "oom", message: "gave up", recoverable: false }));
  expect(screen.getByTestId("job").textContent).toBe("failed 60 - oom");
});

// story-16-15's dashboard: an approvals list fetched over REST and kept current by the
// workspace's `approval.*` events, and a generation's query set when it completes.
interface Approval {
  id: string;
  title: string;
  status: string;
}
interface WorkspaceEvents {
  "approval.created": Approval;
  "approval.updated": Partial<Approval> & { id: string };
  "approval.deleted": { id: string };
}

test("useQuerySync keeps React Query's approvals list and a generation's result current", async () => {
  const client = new MockClient();
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
  const fetchApprovals = vi.fn(async () => [{ id: "a1", title: "Logo", status: "pending" }] as Approval[]);
  function Approvals() {
    const approvals = useQuery({ queryKey: ["approvals", "w1"], queryFn: fetchApprovals });
    useQuerySync<WorkspaceEvents>("workspace", "w1", {
      // An upsert: a new subscription replays the channel's events, the fetched ones too.
      "approval.created": {
        update: ["approvals", "w1"],
        with: (list: Approval[] = [], approval) => [...list.filter((item) => item.id !== approval.id), approval],
      },
      "approval.updated": {
        update: ["approvals", "w1"],
        with: (list: Approval[] = [], change) => list.map((item) => (item.id === change.id ? { ...item, ...change } : item)),
      },
      "approval.deleted": { update: ["approvals", "w1"], with: (list: Approval[] = [], { id }) => list.filter((item) => item.id !== id) },
    });
    const generation = useQuery<JobResultData | null>({ queryKey: ["generation", "g1"], queryFn: async () => null });
    useQuerySync("generation", "g1", {
      completed: { set: ["generation", "g1"] },
      error: { invalidate: ["generation", "g1"] },
    });
    return (
      <>
        <ul data-testid="approvals">{approvals.data?.map((item) => `${item.title}:${item.status}`).join(",")}</ul>
        <p data-testid="video">{generation.data?.video_url ?? "none"}</p>
      </>
    );
  }
  render(
    <QueryClientProvider client={queryClient}>
      <JobSocketProvider client={client}>
        <Approvals />
      </JobSocketProvider>
    </QueryClientProvider>,
  );
  await screen.findByText("Logo:pending");
  act(() => {
    client.emit("workspace", "w1", "approval.created", { id: "a2", title: "Intro", status: "pending" });
    client.emit("workspace", "w1", "approval.updated", { id: "a1", status: "approved" });
  });
  // React Query tells its observers on its own schedule (a timeout): wait for the render.
  const shows = (id: string, text: string) => waitFor(() => expect(screen.getByTestId(id).textContent).toBe(text));
  await shows("approvals", "Logo:approved,Intro:pending");
  // A replay of an approval the list already has changes nothing.
  act(() => client.emit("workspace", "w1", "approval.created", { id: "a2", title: "Intro", status: "pending" }));
  await shows("approvals", "Logo:approved,Intro:pending");
  act(() => client.emit("workspace", "w1", "approval.deleted", { id: "a1" }));
  await shows("approvals", "Intro:pending");
  act(() => client.emit("generation", "g1", "completed", { video_url: "/v.mp4", thumbnail_url: "/t.svg", duration: 4 }));
  await shows("video", "/v.mp4");
  expect(fetchApprovals).toHaveBeenCalledTimes(1);
  expect(client.subscribes.get("workspace:w1")).toBe(1);
});

test("useQuerySync with no channel listens to its event names from any channel and invalidates", async () => {
  const client = new MockClient();
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
  let fetched = 0;
  function Notifications() {
    const count = useQuery({ queryKey: ["unread"], queryFn: async () => ++fetched });
    useQuerySync<{ "notification.new": { text: string } }>(null, null, { "notification.new": { invalidate: ["unread"] } });
    return <p data-testid="unread">{count.data ?? 0}</p>;
  }
  render(
    <QueryClientProvider client={queryClient}>
      <JobSocketProvider client={client}>
        <Notifications />
      </JobSocketProvider>
    </QueryClientProvider>,
  );
  await screen.findByText("1");
  act(() => client.emit("room", "r1", "notification.new", { text: "hi" }));
  await screen.findByText("2");
});
