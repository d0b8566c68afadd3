import { createJobSocket, jsonProtocol, socketIo } from "jobsocket";

// ep-080: Socket.IO 4 behind a NestJS gateway that puts each socket in its user's room, so
// nothing is sent to subscribe; its generation:* events become the typed generation events.
export const ep080 = socketIo({
  events: {
    "generation:queued": "generation.queued",
    "generation:progress": "generation.progress",
    "generation:complete": "generation.completed",
    "generation:error": "generation.error",
  },
});

// story-16-15: Socket.IO 4 with the JWT in the handshake `auth` ({ token } is the default),
// workspace rooms the server joins itself, and generic events the app listens to by name.
export const story1615 = socketIo();

// phase-7: a raw `ws` server with the token in the query and flat progress frames; a frame
// whose `status` says completed or failed ends the job.
export const phase7 = jsonProtocol({
  subscribe: { type: "subscribe", data: { jobId: "{id}" } },
  unsubscribe: { type: "unsubscribe", data: { jobId: "{id}" } },
  events: { progress: "generation.progress" },
  heartbeat: { type: "ping" },
});

// story-007: a raw `ws` server with project channels; progress, job_complete and job_failed
// arrive by name on the project's channel.
export const story007 = jsonProtocol({
  subscribe: { type: "subscribe", projectId: "{id}" },
  unsubscribe: { type: "unsubscribe", projectId: "{id}" },
});

// The app's own events, declared once: they type `subscribe` and `on`.
interface AppEvents {
  "approval.created": { approvalId: string; title: string };
  "notification.new": { text: string };
  progress: { jobId: string; progress: number; sentenceId?: string };
  job_complete: { jobId: string; result: { file?: string; duration?: number } };
  job_failed: { jobId: string; error: string };
}

export async function tour(getToken: () => Promise<string>) {
  const ep = await createJobSocket({ url: "https://api.example.com", token: getToken, protocol: ep080 });
  ep.subscribeGeneration("job_1", { progress: ({ percentage }) => console.log(percentage) });

  const dashboard = await createJobSocket<AppEvents>({ url: "https://api.example.com", token: getToken, protocol: story1615 });
  const stop = dashboard.on("approval.created", ({ title }, { seq }) => console.log(seq, title));

  const live = await createJobSocket({
    url: "wss://app.example.com/ws", token: getToken, protocol: phase7,
    unauthorizedCloseCodes: [1008], // the server closes a bad token with 1008
  });
  live.subscribeGeneration("550e8400", { completed: () => console.log("done") });

  const studio = await createJobSocket<AppEvents>({ url: "ws://localhost:3001/ws", protocol: story007 });
  const project = studio.subscribe("project", "p_1", {
    progress: ({ jobId, progress }) => console.log(jobId, progress),
    job_complete: ({ result }) => console.log(result.file),
  });
  return () => { stop(); project.unsubscribe(); };
}
