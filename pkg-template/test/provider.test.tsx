// The provider's life cycle, with `createJobSocket` replaced by a controllable loader: the
// client arrives when the test says, so every order of mount, StrictMode remount, swap, id
// change and failure can be played. (The same cases run against the real wasm and server in
// Chromium and Firefox: tests/e2e/react-cases.test.mjs.)
import { StrictMode, useState } from "react";
import { act, cleanup, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { JobSocketProvider, useGeneration, useJobEvents, useSend, useServerEvent, useWebSocket } from "../src/react.js";
import { MockClient } from "../src/testing.js";
import type { JobSocketError, JobSocketOptions } from "../src/types.js";

const loads: Array<{ options: JobSocketOptions; resolve: (client: MockClient) => void; reject: (error: unknown) => void }> = [];

vi.mock("../src/index.js", async (importOriginal) => ({
  ...(await importOriginal<object>()),
  createJobSocket: (options: JobSocketOptions) =>
    new Promise((resolve, reject) => loads.push({ options, resolve, reject })),
}));

beforeEach(() => {
  loads.length = 0;
  vi.useFakeTimers();
});

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

/** Resolves load `index` with a new MockClient, lets React see it, and returns the client. */
async function arrive(index = loads.length - 1): Promise<MockClient> {
  const client = new MockClient();
  await act(async () => {
    loads[index]!.resolve(client);
    await Promise.resolve();
  });
  return client;
}

function later(ms = 100): void {
  act(() => void vi.advanceTimersByTime(ms));
}

function Generation({ id }: { id: string }) {
  const job = useGeneration(id);
  return (
    <p data-testid={`gen-${id}`}>
      {job.status ?? "none"} {job.progress} {job.clips.length} {job.error?.code ?? ""}
    </p>
  );
}

const text = (id: string) => screen.getByTestId(`gen-${id}`).textContent;

function runJob(client: MockClient, id: string): void {
  act(() => {
    client.emit("generation", id, "progress", { step: "render", clip_number: 1, total_clips: 1, percentage: 50, message: "" });
    client.emit("generation", id, "clip_completed", { clip_id: "c1", thumbnail_url: "/t.svg", duration: 4 });
    client.emit("generation", id, "completed", { video_url: "/v.mp4", thumbnail_url: "/t.svg", duration: 4 });
  });
}

const OPTIONS = { url: "ws://127.0.0.1:1/ws" };

describe("StrictMode with options, the hook mounted before the wasm loads", () => {
  for (const [name, wait] of [["loads at once", 0], ["loads after the release delay", 200]] as const) {
    test(`subscribes exactly once and sees every event when the wasm ${name}`, async () => {
      render(
        <StrictMode>
          <JobSocketProvider options={OPTIONS}>
            <Generation id="g1" />
          </JobSocketProvider>
        </StrictMode>,
      );
      later(wait);
      expect(loads).toHaveLength(1);
      const client = await arrive();
      later();
      expect(client.subscribes.get("generation:g1")).toBe(1);
      runJob(client, "g1");
      expect(text("g1")).toBe("completed 100 1 ");
      expect(client.unsubscribes.get("generation:g1") ?? 0).toBe(0);
    });
  }
});

test("StrictMode with a client prop subscribes once", () => {
  const client = new MockClient();
  render(
    <StrictMode>
      <JobSocketProvider client={client}>
        <Generation id="g1" />
      </JobSocketProvider>
    </StrictMode>,
  );
  later();
  expect(client.subscribes.get("generation:g1")).toBe(1);
  runJob(client, "g1");
  expect(text("g1")).toBe("completed 100 1 ");
});

test("a client swap moves every subscription to the new client, which replays the job", () => {
  const first = new MockClient();
  const second = new MockClient();
  const tree = (client: MockClient) => (
    <StrictMode>
      <JobSocketProvider client={client}>
        <Generation id="g1" />
      </JobSocketProvider>
    </StrictMode>
  );
  const { rerender } = render(tree(first));
  act(() => first.emit("generation", "g1", "progress", { step: "s", clip_number: 1, total_clips: 1, percentage: 50, message: "" }));
  rerender(tree(second));
  later();
  expect(first.unsubscribes.get("generation:g1")).toBe(1);
  expect(second.subscribes.get("generation:g1")).toBe(1);
  expect(first.freed).toBe(false);
  expect(text("g1")).toBe("none 0 0 ");
  runJob(second, "g1");
  expect(text("g1")).toBe("completed 100 1 ");
});

test("an id change before the wasm has loaded subscribes to the new id only", async () => {
  function Switching() {
    const [id, setId] = useState("old");
    return (
      <>
        <button onClick={() => setId("new")}>switch</button>
        <Generation id={id} />
      </>
    );
  }
  render(
    <StrictMode>
      <JobSocketProvider options={OPTIONS}>
        <Switching />
      </JobSocketProvider>
    </StrictMode>,
  );
  act(() => screen.getByRole("button").click());
  const client = await arrive();
  later();
  expect(client.subscribes.get("generation:old")).toBeUndefined();
  expect(client.subscribes.get("generation:new")).toBe(1);
  runJob(client, "new");
  expect(text("new")).toBe("completed 100 1 ");
});

test("a provider unmounted and remounted frees its client and makes a new one", async () => {
  function Toggle() {
    const [key, setKey] = useState(1);
    return (
      <>
        <button onClick={() => setKey(key + 1)}>remount</button>
        <JobSocketProvider key={key} options={OPTIONS}>
          <Generation id="g1" />
        </JobSocketProvider>
      </>
    );
  }
  render(
    <StrictMode>
      <Toggle />
    </StrictMode>,
  );
  const first = await arrive();
  act(() => screen.getByRole("button").click());
  const second = await arrive();
  later();
  expect(first.freed).toBe(true);
  expect(second.subscribes.get("generation:g1")).toBe(1);
  runJob(second, "g1");
  expect(text("g1")).toBe("completed 100 1 ");
});

test("a hook whose id the client refuses fails alone; the others carry on", async () => {
  render(
    <JobSocketProvider options={OPTIONS}>
      <Generation id="" />
      <Generation id="g1" />
    </JobSocketProvider>,
  );
  const client = await arrive();
  expect(text("")).toBe("failed 0 0 invalid_subscription");
  runJob(client, "g1");
  expect(text("g1")).toBe("completed 100 1 ");
});

describe("setup failures", () => {
  function Status() {
    const { state, reconnect } = useWebSocket();
    return (
      <button data-testid="status" onClick={reconnect}>
        {state.status} {state.reason} {state.lastError?.code}
      </button>
    );
  }

  test("a wasm that fails to load reports setup_failed; reconnect() loads again", async () => {
    const errors: JobSocketError[] = [];
    render(
      <JobSocketProvider options={OPTIONS} onError={(error) => errors.push(error)}>
        <Status />
        <Generation id="g1" />
      </JobSocketProvider>,
    );
    await act(async () => {
      loads[0]!.reject(new TypeError("Failed to fetch jobsocket_bg.wasm"));
      await Promise.resolve();
    });
    expect(errors.map((error) => error.code)).toEqual(["setup_failed"]);
    expect(errors[0]!.message).toContain("Failed to fetch");
    expect(screen.getByTestId("status").textContent).toBe("closed setup_failed setup_failed");
    act(() => screen.getByTestId("status").click());
    expect(loads).toHaveLength(2);
    const client = await arrive(1);
    runJob(client, "g1");
    expect(text("g1")).toBe("completed 100 1 ");
  });

  test("options the client refuses report invalid_options", async () => {
    const errors: JobSocketError[] = [];
    render(<JobSocketProvider options={OPTIONS} onError={(error) => errors.push(error)} />);
    await act(async () => {
      loads[0]!.reject(Object.assign(new Error('unknown option "uri"'), { code: "invalid_options" }));
      await Promise.resolve();
    });
    expect(errors.map((error) => [error.code, error.message])).toEqual([["invalid_options", 'unknown option "uri"']]);
  });

  test("a ws:// URL on an https: page keeps the constructor's mixed_content code", async () => {
    const errors: string[] = [];
    render(<JobSocketProvider options={OPTIONS} onError={(error) => errors.push(error.code)} />);
    await act(async () => {
      loads[0]!.reject(Object.assign(new Error("url is ws:// on an https: page"), { code: "mixed_content" }));
      await Promise.resolve();
    });
    expect(errors).toEqual(["mixed_content"]);
  });

  test("the client's own errors reach onError too", async () => {
    const errors: string[] = [];
    render(<JobSocketProvider options={OPTIONS} onError={(error) => errors.push(error.code)} />);
    const client = await arrive();
    act(() => client.emitError({ code: "malformed_frame", message: "not JSON" } as JobSocketError));
    expect(errors).toEqual(["malformed_frame"]);
  });
});

test("send before the wasm has loaded is queued, then resolves with the outbox id", async () => {
  let send: ReturnType<typeof useSend> | null = null;
  function Sender() {
    send = useSend();
    return null;
  }
  render(
    <JobSocketProvider options={OPTIONS}>
      <Sender />
    </JobSocketProvider>,
  );
  const queued = send!("cancel", { job: "g1" });
  const client = await arrive();
  await expect(queued).resolves.toBe("m_1");
  expect(client.sent).toEqual([{ id: "m_1", event: "cancel", data: { job: "g1" } }]);
});

test("clearOutbox before the wasm has loaded drops the held sends and clears the client's stored outbox once it arrives", async () => {
  let verbs: ReturnType<typeof useWebSocket> | null = null;
  function SignOut() {
    verbs = useWebSocket();
    return null;
  }
  render(
    <JobSocketProvider options={OPTIONS}>
      <SignOut />
    </JobSocketProvider>,
  );
  const held = verbs!.send("note", { from: "user A" });
  act(() => verbs!.clearOutbox());
  await expect(held).rejects.toThrow(/clearOutbox/);
  const client = await arrive();
  expect(client.outboxClears).toBe(1);
  expect(client.sent).toEqual([]);
  act(() => verbs!.clearOutbox());
  expect(client.outboxClears).toBe(2);
});

test("a component that only sends does not re-render when the outbox changes; a useWebSocket one does", async () => {
  const renders = { sender: 0, watcher: 0 };
  let send: ReturnType<typeof useSend> | null = null;
  function Sender() {
    renders.sender += 1;
    send = useSend();
    return null;
  }
  // The control: the same outbox changes do reach a component that reads the state.
  function Watcher() {
    renders.watcher += 1;
    useWebSocket();
    return null;
  }
  render(
    <JobSocketProvider options={OPTIONS}>
      <Sender />
      <Watcher />
    </JobSocketProvider>,
  );
  await arrive();
  const before = { ...renders };
  await act(async () => {
    await send!("note", {});
    await send!("note", {});
  });
  expect(renders.sender).toBe(before.sender);
  expect(renders.watcher).toBeGreaterThan(before.watcher);
});

describe("options changes", () => {
  function App({ options }: { options: JobSocketOptions }) {
    return (
      <JobSocketProvider options={options}>
        <Generation id="g1" />
      </JobSocketProvider>
    );
  }

  test("the same values in a new object keep the client", async () => {
    const { rerender } = render(<App options={{ url: "ws://a/ws" }} />);
    await arrive();
    rerender(<App options={{ url: "ws://a/ws" }} />);
    later();
    expect(loads).toHaveLength(1);
  });

  for (const change of [{ url: "ws://b/ws" }, { storageKey: "user-2" }]) {
    test(`a new ${Object.keys(change)[0]} makes a new client and frees the old`, async () => {
      const { rerender } = render(<App options={{ url: "ws://a/ws", storageKey: "user-1" }} />);
      const first = await arrive();
      rerender(<App options={{ url: "ws://a/ws", storageKey: "user-1", ...change }} />);
      const second = await arrive();
      later();
      expect(loads).toHaveLength(2);
      expect(loads[1]!.options).toMatchObject(change);
      expect(first.freed).toBe(true);
      expect(second.subscribes.get("generation:g1")).toBe(1);
    });
  }

  test("a new token function is read at the next attempt, with no new client", async () => {
    const { rerender } = render(<App options={{ url: "ws://a/ws", token: () => "first" }} />);
    await arrive();
    rerender(<App options={{ url: "ws://a/ws", token: () => "second" }} />);
    later();
    expect(loads).toHaveLength(1);
    const token = loads[0]!.options.token as () => string;
    expect(token()).toBe("second");
  });
});

describe("after the review: the provider's edges", () => {
  test("a send after the provider unmounted rejects at once instead of waiting forever", async () => {
    let send: ReturnType<typeof useSend> | null = null;
    function Sender() {
      send = useSend();
      return null;
    }
    const { unmount } = render(
      <JobSocketProvider options={OPTIONS}>
        <Sender />
      </JobSocketProvider>,
    );
    const pending = send!("early", {});
    unmount();
    later();
    await expect(pending).rejects.toThrow(/unmounted/);
    await expect(send!("late", {})).rejects.toThrow(/unmounted/);
  });

  test("a null token goes to the client as it is, not as an empty string", async () => {
    render(<JobSocketProvider options={{ url: "ws://a/ws", token: null as never }} />);
    expect(loads[0]!.options.token).toBeNull();
  });

  test("the same options written in another key order keep the client", async () => {
    function App({ options }: { options: JobSocketOptions }) {
      return <JobSocketProvider options={options} />;
    }
    const { rerender } = render(<App options={{ url: "ws://a/ws", storageKey: "u1" }} />);
    await arrive();
    rerender(<App options={{ storageKey: "u1", url: "ws://a/ws" }} />);
    later();
    expect(loads).toHaveLength(1);
  });

  test("a provider left with neither client nor options shows idle, and the old jobs' state goes", () => {
    const client = new MockClient();
    function Status() {
      const { state } = useWebSocket();
      return <p data-testid="status">{state.status}</p>;
    }
    const tree = (withClient: boolean) => (
      <JobSocketProvider {...(withClient ? { client } : {})}>
        <Status />
        <Generation id="g1" />
      </JobSocketProvider>
    );
    const { rerender } = render(tree(true));
    runJob(client, "g1");
    expect(text("g1")).toBe("completed 100 1 ");
    rerender(tree(false));
    later();
    expect(screen.getByTestId("status").textContent).toBe("idle");
    expect(text("g1")).toBe("none 0 0 ");
  });

  test("a client that loads after its provider unmounted is freed at once", async () => {
    const { unmount } = render(
      <JobSocketProvider options={OPTIONS}>
        <Generation id="g1" />
      </JobSocketProvider>,
    );
    unmount();
    later();
    const late = await arrive();
    expect(late.freed).toBe(true);
    expect(late.subscribes.size).toBe(0);
  });

  test("useJobEvents and useServerEvent follow a client swap", () => {
    const first = new MockClient();
    const second = new MockClient();
    const heard: string[] = [];
    function Listener() {
      useJobEvents("generation", "g1", { onEvent: (_data, meta) => heard.push(`job ${meta.event}`) });
      useServerEvent<{ ping: object }>("ping", () => heard.push("ping"));
      return null;
    }
    const tree = (client: MockClient) => (
      <JobSocketProvider client={client}>
        <Listener />
      </JobSocketProvider>
    );
    const { rerender } = render(tree(first));
    rerender(tree(second));
    act(() => {
      first.emit("generation", "g1", "queued", { position: 1 });
      first.emit("room", "r", "ping", {});
      second.emit("generation", "g1", "queued", { position: 1 });
      second.emit("room", "r", "ping", {});
    });
    expect(heard).toEqual(["job queued", "ping"]);
  });
});
