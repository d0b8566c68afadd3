// The reference server's HTTP API: starting simulated jobs, and the admin switches of the
// chaos panel (the demo's server runs with --admin).

export type Kind = "generation" | "composition";

export async function startJob(kind: Kind, fail = false): Promise<string> {
  const body =
    kind === "generation" ? { clips: 3, steps_per_clip: 4, fail } : { total_frames: 240, steps: 8, fail };
  const response = await fetch(`/api/v1/${kind}s`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`starting a ${kind} failed: HTTP ${response.status}`);
  const { id } = (await response.json()) as { id: string };
  return id;
}

export async function admin(route: "drop" | "mute-pongs" | "refuse-ws" | "fail-polls", on?: boolean): Promise<void> {
  const response = await fetch(`/admin/${route}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(on === undefined ? {} : { on }),
  });
  if (!response.ok) throw new Error(`/admin/${route}: HTTP ${response.status}`);
}
