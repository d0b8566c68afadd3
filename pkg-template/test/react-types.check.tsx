// Compile-time tests of the React adapter's types (tsc in `make test`): each
// `@ts-expect-error` line must fail to type-check, or tsc reports the directive as unused.
import { useChannel, useGeneration, useComposition, useJobEvents, useServerEvent, useSend, type GenerationState } from "jobsocket/react";
import { useQuerySync } from "jobsocket/react-query";
import { MockClient } from "jobsocket/testing";
import type { HookClient } from "jobsocket/react";

export function Narrowing() {
  const job = useGeneration("g1");
  if (job.status === "completed") {
    // `status` narrows `result`: no null check needed.
    const url: string = job.result.video_url;
    void url;
  } else {
    // @ts-expect-error before completion there may be no result
    void job.result.video_url;
  }
  if (job.status === "failed") {
    const code: string | undefined = job.error?.code;
    void code;
  }
  if (job.status === "processing") {
    // @ts-expect-error a job in flight has no error, only a warning
    void job.error.code;
    const warning: string | undefined = job.warning?.message;
    void warning;
  }
  const composition = useComposition("c1");
  if (composition.status === "failed") {
    const message: string = composition.error.message;
    void message;
  }
  return null;
}

export function ChannelEntries() {
  const { last } = useChannel<{ "approval.created": { title: string }; "approval.deleted": { id: string } }>("workspace", "w1");
  if (last?.event === "approval.created") void last.data.title;
  // @ts-expect-error without the check, data may be a deletion
  void last?.data.title;
  return null;
}

export function Events() {
  useJobEvents("generation", "g1", {
    progress: (data, meta) => void [data.percentage, meta.seq],
    // @ts-expect-error not a generation event
    encoding_progress: () => {},
  });
  useJobEvents<{ "approval.created": { title: string } }>("workspace", "w1", {
    "approval.created": (data) => void data.title,
  });
  useServerEvent<{ "notification.new": { text: string } }>("notification.new", (data) => void data.text);
  // A map of several events: meta.event narrows meta.data; naming the event types data.
  type Workspace = { "approval.created": { title: string }; "approval.deleted": { id: string } };
  useServerEvent<Workspace>("approval.created", (_data, meta) => {
    if (meta.event === "approval.created") void meta.data.title;
  });
  useServerEvent<Workspace, "approval.deleted">("approval.deleted", (data) => void data.id);
  // @ts-expect-error a deleted approval has no title
  useServerEvent<Workspace, "approval.deleted">("approval.deleted", (data) => void data.title);
  // @ts-expect-error not an event of the map
  useServerEvent<{ "notification.new": { text: string } }>("chat.message", () => {});
  const send = useSend();
  const queued: Promise<string> = send("cancel", { job: "g1" });
  void queued;
  useQuerySync<{ "approval.deleted": { id: string } }>("workspace", "w1", {
    "approval.deleted": { update: ["approvals"], with: (list: Array<{ id: string }> = [], { id }) => list.filter((a) => a.id !== id) },
    // @ts-expect-error not an event of the map
    "approval.exploded": { invalidate: ["approvals"] },
  });
  return null;
}

// The test double is a client the provider accepts.
const mock: HookClient = new MockClient();
void mock;
// `GenerationState` is exported for app code that passes it around.
export type Shown = GenerationState["status"];
