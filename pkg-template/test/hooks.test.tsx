import { StrictMode, useRef } from "react";
import { act, render, screen, cleanup } from "@testing-library/react";
import { afterEach, describe, expect, test, vi } from "vitest";
import {
  ConnectionStatus,
  JobSocketProvider,
  useChannel,
  useComposition,
  useGeneration,
  useWebSocket,
} from "../src/react.js";
import { MockClient } from "../src/testing.js";

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

function Generation({ id }: { id: string }) {
  const job = useGeneration(id);
  const renders = useRef(0);
  renders.current += 1;
  return (
    <div data-testid={`gen-${id}`} data-renders={renders.current}>
      {job.status ?? "none"} {job.progress}% {job.clips.length} clips {job.result?.video_url ?? ""}
    </div>
  );
}

function mount(ui: React.ReactNode, client: MockClient, strict = false) {
  const tree = <JobSocketProvider client={client}>{ui}</JobSocketProvider>;
  return render(strict ? <StrictMode>{tree}</StrictMode> : tree);
}

describe("useGeneration", () => {
  test("subscribes on mount and renders the job's events as they arrive", () => {
    const client = new MockClient();
    mount(<Generation id="g1" />, client);
    expect(client.subscribes.get("generation:g1")).toBe(1);
    act(() => {
      client.emit("generation", "g1", "status_change", { old_status: "queued", new_status: "processing", message: "" });
      client.emit("generation", "g1", "progress", { step: "rendering", clip_number: 1, total_clips: 2, percentage: 50, message: "" });
      client.emit("generation", "g1", "clip_completed", { clip_id: "c1", thumbnail_url: "/t.svg", duration: 4 });
      client.emit("generation", "g1", "completed", { video_url: "/v.mp4", thumbnail_url: "/t.svg", duration: 8 });
    });
    expect(screen.getByTestId("gen-g1").textContent).toBe("completed 100% 1 clips /v.mp4");
  });

  test("unsubscribes after unmount", () => {
    vi.useFakeTimers();
    const client = new MockClient();
    const { unmount } = mount(<Generation id="g1" />, client);
    unmount();
    vi.advanceTimersByTime(100);
    expect(client.unsubscribes.get("generation:g1")).toBe(1);
  });

  test("follows a change of id", () => {
    vi.useFakeTimers();
    const client = new MockClient();
    const { rerender } = mount(<Generation id="g1" />, client);
    rerender(
      <JobSocketProvider client={client}>
        <Generation id="g2" />
      </JobSocketProvider>,
    );
    vi.advanceTimersByTime(100);
    expect(client.subscribes.get("generation:g2")).toBe(1);
    expect(client.unsubscribes.get("generation:g1")).toBe(1);
  });

  test("StrictMode's double mount opens one subscription, not two", () => {
    vi.useFakeTimers();
    const client = new MockClient();
    mount(<Generation id="g1" />, client, true);
    vi.advanceTimersByTime(100);
    expect(client.subscribes.get("generation:g1")).toBe(1);
    expect(client.unsubscribes.get("generation:g1") ?? 0).toBe(0);
  });

  test("two components watching one job share one subscription", () => {
    const client = new MockClient();
    mount(
      <>
        <Generation id="g1" />
        <Generation id="g1" />
      </>,
      client,
    );
    expect(client.subscribes.get("generation:g1")).toBe(1);
  });

  test("a component re-renders only when its own job changed", () => {
    const client = new MockClient();
    mount(
      <>
        <Generation id="g1" />
        <Generation id="g2" />
      </>,
      client,
    );
    const before = screen.getByTestId("gen-g2").dataset.renders;
    act(() => {
      client.emit("generation", "g1", "progress", { step: "x", clip_number: 1, total_clips: 1, percentage: 10, message: "" });
    });
    expect(screen.getByTestId("gen-g2").dataset.renders).toBe(before);
  });
});

describe("useComposition", () => {
  test("tracks encoding progress to completion", () => {
    const client = new MockClient();
    function Composition() {
      const job = useComposition("c1");
      return <div data-testid="comp">{job.progress}% {job.framesProcessed}/{job.totalFrames} {job.status}</div>;
    }
    mount(<Composition />, client);
    act(() => {
      client.emit("composition", "c1", "encoding_progress", { percentage: 50, frames_processed: 120, total_frames: 240, estimated_remaining: 2 });
    });
    expect(screen.getByTestId("comp").textContent).toBe("50% 120/240 processing");
  });
});

describe("useWebSocket and ConnectionStatus", () => {
  test("the provider connects on demand: not before anything is subscribed or sent", () => {
    const client = new MockClient();
    const { container } = mount(<ConnectionStatus />, client, true);
    expect(client.connects).toBe(0);
    expect(client.subscribes.size).toBe(0);
    expect((container.querySelector("[data-status]") as HTMLElement).dataset.status).toBe("idle");
    expect(screen.queryByRole("button")).toBeNull();
  });

  test("the status shows every state with data attributes and a reconnect button when disconnected", () => {
    const client = new MockClient();
    const { container } = mount(<ConnectionStatus />, client);
    const element = () => container.querySelector("[data-status]") as HTMLElement;
    act(() => client.setStatus("open"));
    expect(element().dataset.status).toBe("connected");
    expect(screen.queryByRole("button")).toBeNull();
    act(() => client.setStatus("polling"));
    expect(element().dataset.status).toBe("polling");
    expect(screen.getByRole("status").textContent).toBe("Polling");
    act(() => client.setStatus("reconnecting"));
    expect(element().dataset.status).toBe("reconnecting");
    expect(screen.getByRole("button", { name: "Reconnect" })).toBeTruthy();
    expect(screen.getByRole("status").getAttribute("aria-live")).toBe("polite");
  });

  test("the live region announces each change once: a retry streak stays Reconnecting…", async () => {
    const client = new MockClient();
    mount(<ConnectionStatus />, client);
    const region = screen.getByRole("status");
    // Each step is awaited, so the observer reports what each step changed.
    const step = (change: () => void) => act(async () => change());
    const announced: string[] = [];
    new MutationObserver(() => announced.push(region.textContent ?? "")).observe(region, {
      subtree: true,
      childList: true,
      characterData: true,
    });
    // Each status of a retry is rendered on its own step: connecting with attempt > 0 must
    // not announce anything.
    const retry = async (attempt: number) => {
      await step(() => {
        client.state = { ...client.state, attempt };
        client.setStatus("connecting", "retry_due");
      });
      // Nor does the Reconnect button blink away for the attempt.
      expect(screen.getByRole("button", { name: "Reconnect" })).toBeTruthy();
      await step(() => client.setStatus("reconnecting", "socket_closed"));
    };
    await step(() => client.setStatus("connecting", "connect_requested"));
    await step(() => client.setStatus("open"));
    await step(() => client.setStatus("reconnecting", "socket_closed"));
    await retry(1);
    await retry(2);
    await step(() => {
      client.state = { ...client.state, attempt: 0 };
      client.setStatus("open");
    });
    // A state change that is not a status change (an outbox message) announces nothing.
    await step(() => void client.send("note", {}));
    expect(announced).toEqual(["Connecting…", "Connected", "Reconnecting…", "Connected"]);
  });

  test("useWebSocket exposes the state and the verbs", async () => {
    const client = new MockClient();
    let seen: ReturnType<typeof useWebSocket> | null = null;
    function Probe() {
      seen = useWebSocket();
      return null;
    }
    mount(<Probe />, client);
    act(() => client.setStatus("open"));
    expect(seen!.isConnected).toBe(true);
    expect(seen!.isPolling).toBe(false);
    await expect(seen!.send("note", {})).resolves.toBe("m_1");
  });
});

function Project({ id }: { id: string }) {
  const { events, last } = useChannel<{ progress: { progress: number }; job_complete: { file: string } }>(
    "project",
    id,
  );
  return (
    <p data-testid="project">
      {events.length} {last?.event ?? "none"} {last?.seq ?? 0}
    </p>
  );
}

describe("useChannel", () => {
  test("two components share one subscription and see each event once, in order", () => {
    const client = new MockClient();
    render(
      <StrictMode>
        <JobSocketProvider client={client}>
          <Project id="p1" />
          <Project id="p1" />
        </JobSocketProvider>
      </StrictMode>,
    );
    act(() => {
      client.emit("project", "p1", "progress", { progress: 40 }, 1);
      client.emit("project", "p1", "job_complete", { file: "/f.mp4" }, 2);
    });
    expect(screen.getAllByTestId("project").map((node) => node.textContent)).toEqual([
      "2 job_complete 2",
      "2 job_complete 2",
    ]);
    expect(client.subscribes.get("project:p1")).toBe(1);
  });
});
