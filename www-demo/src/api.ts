// The reference server's HTTP API: starting simulated jobs, and the admin switches of the
// chaos panel (the demo's server runs with --admin).

const SCOPE_KEY = "jobsocket-demo-scope";
const ADMIN_KEY_KEY = "jobsocket-demo-admin-key";

/**
 * The admin key the chaos panel sends in `x-admin-key`. `make demo` prints the page's address
 * with the key in its fragment (`/#adminKey=…`): a fragment never leaves the browser, and a
 * page of another site can neither read it nor send the header, so only this tab can work
 * the admin API. The key moves to sessionStorage (a reload keeps it) and out of the address
 * bar (a shared link does not carry it).
 */
const adminKey: string | null = takeAdminKey();

function takeAdminKey(): string | null {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("adminKey");
  if (fromHash) {
    try {
      sessionStorage.setItem(ADMIN_KEY_KEY, fromHash);
    } catch {
      // Storage blocked: the key lasts for this page load only.
    }
    history.replaceState(null, "", location.pathname + location.search);
    return fromHash;
  }
  try {
    return sessionStorage.getItem(ADMIN_KEY_KEY);
  } catch {
    return null;
  }
}

/**
 * This tab's fault scope on the reference server. The tab's socket, its polls and its chaos
 * panel all name it, so the panel breaks this tab's connection only: another tab, or another
 * test on the same server, goes on undisturbed. It is kept in sessionStorage, so a reload stays
 * in the same scope (and finds its outbox, whose storage key includes the URL); `?scope=` in
 * the page's address picks one.
 */
export const scope: string = pickScope();

function pickScope(): string {
  const named = new URLSearchParams(location.search).get("scope");
  if (named) return named;
  try {
    const kept = sessionStorage.getItem(SCOPE_KEY);
    if (kept) return kept;
  } catch {
    // Storage blocked: a scope for this page load only.
  }
  const made = `tab-${Math.random().toString(36).slice(2, 10)}`;
  try {
    sessionStorage.setItem(SCOPE_KEY, made);
  } catch {
    // As above.
  }
  return made;
}

/** `path` with this tab's scope in its query. */
export function scoped(path: string): string {
  return `${path}${path.includes("?") ? "&" : "?"}scope=${encodeURIComponent(scope)}`;
}

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
  if (!adminKey) {
    throw new Error("no admin key: open the demo at the address `make demo` printed (…/#adminKey=…)");
  }
  const response = await fetch(scoped(`/admin/${route}`), {
    method: "POST",
    headers: { "content-type": "application/json", "x-admin-key": adminKey },
    body: JSON.stringify(on === undefined ? {} : { on }),
  });
  if (!response.ok) throw new Error(`/admin/${route}: HTTP ${response.status}`);
}
