// Compile-time tests of the public types (tsc --noEmit over this file in `make test`): each
// `@ts-expect-error` line must fail to type-check, or tsc reports the directive as unused.
import type { JobSocketClient } from "../src/index.js";
import type { ConnectionState, GenerationEvent } from "../src/types.js";

declare const client: JobSocketClient;

client.subscribeGeneration("g1", {
  progress: (data, meta) => {
    const percentage: number = data.percentage;
    const clip: number = data.clip_number;
    const event: "progress" = meta.event;
    void [percentage, clip, event];
    // @ts-expect-error a progress payload has no video_url
    void data.video_url;
  },
  completed: ({ video_url }) => void video_url,
  // @ts-expect-error there is no generation event "encoding_progress"
  encoding_progress: () => {},
});

client.subscribeComposition("c1", {
  encoding_progress: ({ frames_processed, estimated_remaining }) =>
    void [frames_processed, estimated_remaining],
  // @ts-expect-error composition events have no "clip_completed"
  clip_completed: () => {},
});

client.subscribeGeneration("g1", {
  // @ts-expect-error a handler of the wrong payload type
  queued: (data: { position: string }) => void data,
});

declare const state: ConnectionState;
if (state.status === "reconnecting") {
  const next: number = state.nextRetryAt;
  void next;
}
if (state.status === "open") {
  const transport: "websocket" = state.transport;
  void transport;
}
// @ts-expect-error "connected" is not a status
const wrong: ConnectionState["status"] = "connected";
void wrong;

declare const event: GenerationEvent;
if (event.event === "clip_completed") {
  const id: string = event.data.clip_id;
  void id;
}

const unsubscribe: () => void = client.onStateChange(({ status }) => void status);
unsubscribe();

// The app's own event map types channel handlers and event listeners.
interface WorkspaceEvents {
  "approval.created": { approvalId: string; title: string };
  "notification.new": { text: string };
}
declare const workspace: JobSocketClient<WorkspaceEvents>;
workspace.subscribe("workspace", "w_1", {
  "approval.created": (data, meta) => {
    const title: string = data.title;
    const seq: number = meta.seq;
    const channel: string | null = meta.channel;
    void [title, seq, channel];
    // @ts-expect-error an approval has no text
    void data.text;
  },
  // @ts-expect-error not an event of the map
  "approval.exploded": () => {},
});
const stop: () => void = workspace.on("notification.new", ({ text }) => void text);
stop();
// @ts-expect-error not an event of the map
workspace.on("chat.message", () => {});
