// The browser's two pieces of tab sharing, wrapped for the driver (src/web/tabs.rs): one
// BroadcastChannel, and the app's Web Lock, requested, stolen and released.

/** Whether this browser has what sharing across tabs needs. */
export function tabsSupported() {
  return typeof BroadcastChannel === "function" &&
    typeof navigator === "object" && navigator !== null &&
    typeof navigator.locks === "object" && navigator.locks !== null &&
    typeof navigator.locks.request === "function";
}

/** Opens the channel `name`; `onMessage` gets every string another tab posts on it. */
export function openChannel(name, onMessage) {
  const channel = new BroadcastChannel(name);
  channel.onmessage = (event) => {
    if (typeof event.data === "string") onMessage(event.data);
  };
  return channel;
}

/**
 * Asks for the lock `name`: waits in line for it, or with `steal` takes it from its holder at
 * once. `onAcquired` runs when it is held, `onLost` if another tab steals it afterwards.
 * Returns a function that gives the lock back, or leaves the line.
 */
export function requestLock(name, steal, onAcquired, onLost) {
  const leaveLine = new AbortController();
  let giveBack = () => {};
  const held = new Promise((resolve) => { giveBack = resolve; });
  let acquired = false;
  let released = false;
  const options = steal ? { steal: true } : { signal: leaveLine.signal };
  navigator.locks.request(name, options, () => {
    // Granted after the driver let go: hand it straight back.
    if (released) return undefined;
    acquired = true;
    onAcquired();
    return held;
  }).catch(() => {
    // A request left before it was granted rejects too; only a held lock can be lost.
    if (acquired && !released) onLost();
  });
  return () => {
    released = true;
    giveBack();
    leaveLine.abort();
  };
}
